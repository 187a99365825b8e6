"""The enforcer's outcomes in the shapes other compliance tools read. Pure: no boto3."""
