"""Deployments of the same pipeline and plan beyond one machine (``aws``: the CDK app and Lambda handlers)."""

__all__: list[str] = []
