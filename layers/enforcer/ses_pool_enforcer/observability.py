"""Powertools objects, created once and imported everywhere."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "ses-pool-enforcer"
NAMESPACE = "SesPoolEnforcer"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
