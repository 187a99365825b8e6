"""Powertools objects, created once and imported everywhere.

No Tracer: the functions make few, sequential AWS calls, Lambda's own active tracing
shows them, and the X-Ray SDK would add about 100 ms to every cold start.
"""

from aws_lambda_powertools import Logger, Metrics

SERVICE = "ses-pool-enforcer"
NAMESPACE = "SesPoolEnforcer"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
