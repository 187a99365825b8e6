"""AWS access, one small module per service. Nothing else in the package calls boto3."""
