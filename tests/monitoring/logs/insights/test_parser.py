"""Parsing: the pipeline's shape, and errors that point at the problem."""

from __future__ import annotations

import pytest

from whispersync.errors import QuerySyntaxError
from whispersync.monitoring.logs.insights import InsightsQueryError, parse_query
from whispersync.monitoring.logs.insights import _parser as ast


class TestParse:
    def test_it_splits_a_pipeline_into_commands(self):
        """Each `|`-separated command becomes one node, in order; keywords ignore case."""
        q = parse_query("FIELDS @timestamp, @message | FILTER level = 'ERROR' | SORT @timestamp DESC | LIMIT 20")
        assert [type(c) for c in q.commands] == [ast.Fields, ast.Filter, ast.Sort, ast.Limit]
        assert [i.name for i in q.commands[0].items] == ["@timestamp", "@message"]
        assert q.commands[2].keys[0][1] is True
        assert q.commands[3].count == 20

    def test_it_names_stats_columns_by_their_text_or_alias(self):
        """An unaliased aggregate is named as typed (`count(*)`), an alias wins."""
        q = parse_query("stats count(*), avg(duration_ms) as mean by bin(5m), agent_type")
        stats = q.commands[0]
        assert [a.name for a in stats.aggregates] == ["count(*)", "mean"]
        assert [b.name for b in stats.by] == ["bin(5m)", "agent_type"]
        assert stats.by[0].expr.args[0] == ast.Duration(48, 50, 5, 300_000)

    def test_it_reads_regexes_strings_and_division(self):
        """A `/` after a value divides; elsewhere it starts a regex (with flags)."""
        q = parse_query(r"filter @message like /a\/b/i and x / 2 > 1 and y like 'it\'s'")
        expr = q.commands[0].expr
        like = expr.left.left
        assert isinstance(like, ast.Match) and like.pattern.pattern == "a/b" and like.pattern.flags == "i"
        assert expr.left.right.left.op == "/"

    def test_it_reads_comments_backquotes_and_nested_names(self):
        """`#` comments run to the end of the line; dotted names stay one field. Backquotes quote
        a name and are not part of it ("the log field foo-bar must be enclosed in backticks",
        CWL_QuerySyntax-Guidelines.html), so the column of `my field` is the field my field."""
        q = parse_query("# errors only\nfields `my field`, http.status.code # trailing\n| limit 1")
        assert [i.name for i in q.commands[0].items] == ["my field", "http.status.code"]
        assert q.commands[0].items[0].expr.name == "my field"

    def test_parse_glob_and_regex(self):
        """`parse` defaults to @message; a regex names its fields with groups."""
        glob = parse_query('parse "* [*] *" as a, b, c').commands[0]
        assert glob.source.name == "@message" and glob.names == ("a", "b", "c")
        regex = parse_query(r"parse @logStream /(?<user>\w+)/").commands[0]
        assert regex.source.name == "@logStream" and regex.pattern.pattern == r"(?<user>\w+)"


class TestErrors:
    @pytest.mark.parametrize(
        ("query", "position", "message"),
        [
            ("stats count() by | sort x", 17, "expected a field name after 'by', found '|'"),
            ("stats count(*) by ", 18, "expected a field name after 'by', found the end of the query"),
            ("fields a |", 10, "expected a command"),
            ("", 0, "expected a command"),
            ("fields a | frobnicate x", 11, "expected a command (fields, filter"),
            ("filter", 6, "expected a condition after 'filter'"),
            ("filter x like 5", 14, "expected a /regex/ or \"string\" after 'like'"),
            ("filter @message like /abc", 21, "unterminated regular expression"),
            ("filter x = 'abc", 11, "unterminated string"),
            ("limit ten", 6, "expected a whole number after 'limit'"),
            ("limit 0", 6, "limit must be between 1 and 100000"),
            ("sort", 4, "expected a field name after 'sort'"),
            ('parse @message "* *" as a', 15, "the pattern has 2 '*' but 1 field names"),
            ("stats strlen(x)", 6, "expected an aggregate function"),
            ("fields a b", 9, "expected '|' or the end of the query"),
            ("filter x in [1, 2", 17, "expected ']' to close the list"),
            ("fields a ; b", 9, "unexpected character ';'"),
        ],
    )
    def test_it_points_at_the_problem(self, query, position, message):
        """The error carries the offset and says what was expected there."""
        with pytest.raises(InsightsQueryError) as info:
            parse_query(query)
        assert info.value.position == position
        assert message in str(info.value)
        assert str(info.value).startswith(f"line 1, column {position + 1}: ")

    def test_it_counts_lines_and_columns(self):
        """Positions in a multi-line query are reported as line and column."""
        with pytest.raises(InsightsQueryError) as info:
            parse_query("fields a\n| filter (x = 1")
        assert (info.value.line, info.value.column) == (2, 16)
        assert str(info.value) == "line 2, column 16: expected ')' to close '(', found the end of the query"

    def test_only_limit_may_follow_dedup(self):
        """CloudWatch: the only command allowed after dedup is limit."""
        parse_query("fields a | dedup a | limit 3")
        with pytest.raises(InsightsQueryError, match="only limit may follow dedup"):
            parse_query("fields a | dedup a | sort a")

    def test_it_is_a_query_syntax_error_not_a_value_error(self):
        """A bad query is the caller's fault (a 400); a ValueError is a bug (a 500)."""
        assert issubclass(InsightsQueryError, QuerySyntaxError)
        assert not issubclass(InsightsQueryError, ValueError)


@pytest.mark.parametrize("query", ["filter " + "(" * 2000 + "x = 1" + ")" * 2000, "filter " + "not " * 2000 + "x = 1"])
def test_a_deeply_nested_query_is_a_query_error_not_a_recursion_error(query: str) -> None:
    with pytest.raises(InsightsQueryError, match="nested too deeply"):
        parse_query(query)
