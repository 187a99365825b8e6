"""ses-pool-enforcer: keeps every SES configuration set on the pool its policy demands.

Layout: ``policy`` (the document users write), ``evaluation`` (pure decisions),
``adapters`` (AWS access), ``reconciler`` (decide and act on one set), ``sweep`` and
``report`` (whole-account work), ``events`` (CloudTrail parsing), ``cli`` (operators).
"""

__version__ = "0.2.0"
