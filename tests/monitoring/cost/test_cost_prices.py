"""The price table: data shipped with the package, refused with a clear message when it is bad."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from whispersync.errors import ConfigError
from whispersync.monitoring.cost import DEFAULT_PRICE_TABLE, PriceTableError, load_price_table

BUNDLED = Path(__file__).resolve().parents[3] / "src/whispersync/monitoring/cost/prices" / DEFAULT_PRICE_TABLE


class TestBundledTable:
    def test_it_is_dated_versioned_and_sourced(self) -> None:
        table = load_price_table()
        assert (table.region, table.version, table.effective, table.currency) == (
            "us-east-1", "2026-12.1", dt.date(2026, 12, 1), "USD")
        assert table.sources["lambda"] == "https://aws.amazon.com/lambda/pricing/"
        assert set(table.sources) == {"lambda", "sqs", "s3", "dynamodb", "cloudwatch"}
        assert table.label() == "us-east-1 list prices, table 2026-12.1 of 2026-12-01"

    def test_it_holds_the_list_prices(self) -> None:
        table = load_price_table()
        assert table.price("lambda", "usd_per_million_requests") == 0.20
        assert table.price("lambda", "usd_per_gb_second") == 0.0000166667
        assert table.price("lambda", "free_gb_seconds_per_month") == 400_000
        assert table.price("sqs", "usd_per_million_requests") == 0.40
        assert table.price("sqs", "payload_chunk_bytes") == 64 * 1024
        assert (table.price("s3", "usd_per_thousand_put"), table.price("s3", "usd_per_thousand_get")) == (0.005, 0.0004)
        assert table.price("dynamodb", "usd_per_million_write_units") == 0.625
        assert table.price("dynamodb", "usd_per_million_read_units") == 0.125

    def test_the_default_is_the_file_in_the_package(self) -> None:
        from_file, default = load_price_table(BUNDLED), load_price_table()
        assert (from_file.prices, from_file.version) == (default.prices, default.version)


class TestBadTables:
    def write(self, tmp_path: Path, text: str) -> Path:
        path = tmp_path / "prices.toml"
        path.write_text(text)
        return path

    def bundled_with(self, old: str, new: str) -> str:
        text = BUNDLED.read_text()
        assert old in text
        return text.replace(old, new, 1)

    @pytest.mark.parametrize(("old", "new", "message"), [
        ("usd_per_gb_second = 0.0000166667", "usd_per_gb_second = -1", "[lambda] `usd_per_gb_second` must be >= 0"),
        ("usd_per_thousand_get = 0.0004", 'usd_per_thousand_get = "cheap"',
         "[s3] `usd_per_thousand_get` must be a number"),
        ("write_unit_bytes = 1024", "write_unit_bytes = 0", "[dynamodb] `write_unit_bytes` must be > 0"),
        ("usd_per_thousand_put = 0.005\n", "", "[s3] `usd_per_thousand_put` must be a number, got None"),
        ('source = "https://aws.amazon.com/sqs/pricing/"', 'source = "sqs docs"', "[sqs] needs `source`"),
        ("effective = 2026-12-01", 'effective = "December"', "`effective` must be a date"),
        ('version = "2026-12.1"', 'version = ""', "`version` must be a non-empty string"),
        ("[dynamodb]", "[dynamo]", "missing section [dynamodb]"),
        ('currency = "USD"', 'currency = "EUR"', "`currency` must be USD"),
    ])
    def test_it_names_what_is_wrong(self, tmp_path: Path, old: str, new: str, message: str) -> None:
        path = self.write(tmp_path, self.bundled_with(old, new))
        with pytest.raises(PriceTableError) as caught:
            load_price_table(path)
        assert message in str(caught.value)
        assert str(path) in str(caught.value)

    def test_a_file_that_is_not_toml_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(PriceTableError, match="not valid TOML"):
            load_price_table(self.write(tmp_path, "version = [unclosed"))

    def test_a_missing_file_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(PriceTableError, match="cannot read it"):
            load_price_table(tmp_path / "nope.toml")

    def test_it_is_a_configuration_error(self) -> None:
        assert issubclass(PriceTableError, ConfigError)
