"""The one error a query can raise."""

from __future__ import annotations


class InsightsQueryError(ValueError):
    """A query that cannot be parsed or run; ``position`` is the 0-based offset.

    ``line`` and ``column`` are 1-based; ``str()`` reads like
    ``line 1, column 18: expected a field name after 'by'``.
    """

    def __init__(self, message: str, query: str = "", position: int = 0) -> None:
        self.reason = message
        self.query = query
        self.position = position
        before = query[:position]
        self.line = before.count("\n") + 1
        self.column = position - (before.rfind("\n") + 1) + 1
        super().__init__(f"line {self.line}, column {self.column}: {message}")
