from __future__ import annotations

import uuid

import pytest

from whispersync.telemetry import (
    correlation_scope,
    current_correlation_id,
    new_correlation_id,
    resolve_correlation_id,
)


class TestScope:
    def test_it_binds_and_restores(self):
        assert current_correlation_id() is None
        with correlation_scope("outer") as cid:
            assert cid == current_correlation_id() == "outer"
            with correlation_scope("inner"):
                assert current_correlation_id() == "inner"
            assert current_correlation_id() == "outer"
        assert current_correlation_id() is None

    def test_it_rejects_junk(self):
        with pytest.raises(ValueError):
            with correlation_scope("has spaces"):
                pass


class TestNew:
    def test_it_is_a_uuid4(self):
        for _ in range(1000):  # every random bit pattern keeps the version and variant
            text = new_correlation_id()
            parsed = uuid.UUID(text)
            assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)

    def test_ids_differ_and_use_every_random_bit(self):
        ids = [uuid.UUID(new_correlation_id()).int for _ in range(2000)]
        assert len(set(ids)) == len(ids)
        varying = 0
        for other in ids[1:]:
            varying |= ids[0] ^ other
        assert bin(varying).count("1") == 122  # 128 bits less the 4 of the version and 2 of the variant


class TestResolve:
    def test_the_header_comes_first(self):
        assert resolve_correlation_id("from-header", {"correlationId": "from-attr"}) == "from-header"

    def test_then_the_message_attribute(self):
        assert resolve_correlation_id(None, {"correlationId": "from-attr"}) == "from-attr"

    def test_sqs_shaped_attributes_work(self):
        attributes = {"correlationId": {"StringValue": "abc-123", "DataType": "String"}}
        assert resolve_correlation_id(attributes=attributes) == "abc-123"

    def test_else_a_new_uuid(self):
        assert uuid.UUID(resolve_correlation_id()).version == 4

    @pytest.mark.parametrize(
        "junk", ["", "a b", "x" * 129, "<script>", "id\nINFO forged line", "ü", "a/b", 'a"b']
    )
    def test_junk_is_replaced(self, junk):
        resolved = resolve_correlation_id(junk, {"correlationId": junk})
        assert resolved != junk and uuid.UUID(resolved).version == 4

    def test_junk_header_falls_back_to_a_good_attribute(self):
        assert resolve_correlation_id("bad id", {"correlationId": "good.id:1"}) == "good.id:1"

    def test_the_longest_valid_id_is_kept(self):
        assert resolve_correlation_id("a" * 128) == "a" * 128
