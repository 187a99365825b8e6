"""The enforcer at work on an embedded local AWS: ``python -m demo`` (or ``make demo``)."""
