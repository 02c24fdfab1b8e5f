"""The Lambda handlers: thin shells over the pipeline the local runtime runs.

One module per function (see `environment.FUNCTIONS` for names and entry points);
each builds its adapters at its first invocation and keeps them for the container's
life. Telemetry goes to stdout in the shapes CloudWatch reads (see `_lambda`).
"""
