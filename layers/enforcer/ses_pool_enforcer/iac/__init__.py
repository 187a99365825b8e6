"""Infrastructure as code, read before deploy: the configuration sets and pools that
CloudFormation, SAM and CDK templates and Terraform plans declare (``sources``), judged
by the enforcer's own ``evaluate`` (``verdict``), written as SARIF or JUnit.

Pure: local files only, no AWS access.
"""
