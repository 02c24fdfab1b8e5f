"""Contract suites for the ports: one base class per port, run by every adapter.

An adapter's test module subclasses the base (``class TestSqliteQueue(QueueContract)``)
and supplies the adapter through the hook methods the base documents. The bases
use only the port's public methods, so the AWS adapters (SQS, S3, DynamoDB under
moto) run the very same tests. These modules are not named ``test_*``, so pytest
collects the tests only through a subclass.
"""
