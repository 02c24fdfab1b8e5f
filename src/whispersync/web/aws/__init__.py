"""AWS's own wire protocols on the API port: CloudWatch (and CloudWatch Logs) for boto3 and the AWS CLI."""
