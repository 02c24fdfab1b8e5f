"""The pipeline's ports on AWS: Queue on SQS, BlobStore on S3, RecordStore on DynamoDB.

Install with `pip install 'whispersync[aws]'`. boto3 is imported only when an
adapter builds its client (or by whoever passes one in), never by importing this
package, so `import whispersync` and `whispersync up` work without boto3. Each
adapter takes a boto3 client, or a region and endpoint to build one lazily, so a
real account and moto both work.
"""

from whispersync.pipeline.aws.dynamodb import (
    DynamoRecordStore,
    RecordExists,
    ensure_table,
)
from whispersync.pipeline.aws.s3 import S3BlobStore
from whispersync.pipeline.aws.sqs import SqsQueue, ensure_queue

__all__ = ["DynamoRecordStore", "RecordExists", "S3BlobStore", "SqsQueue", "ensure_queue", "ensure_table"]
