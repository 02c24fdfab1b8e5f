"""The one error a query can raise."""

from __future__ import annotations

from whispersync.errors import InputError


class InsightsQueryError(InputError, ValueError):
    """A query that cannot be parsed or run; ``position`` is the 0-based offset.

    ``line`` and ``column`` are 1-based; ``str()`` reads like
    ``line 1, column 18: expected a field name after 'by'``. ``detail`` holds the
    query engine's own text when it refused to run the query: for the server's
    log only, never for the client.
    """

    code = "bad_query"

    def __init__(self, message: str, query: str = "", position: int = 0) -> None:
        self.detail: str | None = None
        self.reason = message
        self.query = query
        self.position = position
        before = query[:position]
        self.line = before.count("\n") + 1
        self.column = position - (before.rfind("\n") + 1) + 1
        super().__init__(f"line {self.line}, column {self.column}: {message}")
