"""WhisperSync on AWS: Lambda handlers (thin shells over the pipeline) and the CDK app compiled from the plan.

``environment`` names what the stack hands each function and the handlers read;
``handlers`` are the Lambda entry points; ``stack`` (the ``deploy`` extra) builds the CDK stack.
"""

__all__: list[str] = []
