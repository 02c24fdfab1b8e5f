"""IP address functions, on events whose `addr` holds good, bad and missing addresses.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
("IP address string functions"): each returns true for what it describes; a bad
address, a bad CIDR block or a missing field is false, never an error.
"""

from __future__ import annotations

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC, inside the range of conftest.py's `query`

# name → extra fields of the event
EVENTS = {
    "doc4": {"addr": "192.0.2.10", "net": "192.0.2.0/24", "dstAddr": "198.51.100.1", "bytes": 100},
    "private4": {"addr": "10.1.2.3", "net": "10.0.0.0/16", "dstAddr": "198.51.100.1", "bytes": 7},
    "public4": {"addr": "8.8.8.8", "dstAddr": "198.51.100.2", "bytes": 1000},
    "doc6": {"addr": "2001:db8::1"},
    "public6": {"addr": "2606:4700:4700::1111"},
    "mapped": {"addr": "::ffff:192.0.2.1"},
    "bad4": {"addr": "192.0.2.256"},
    "bad6": {"addr": "2001:db8::1::2"},
    "text": {"addr": "not an address"},
    "empty": {"addr": ""},
    "missing": {},
}
NAMES = sorted(EVENTS)


@pytest.fixture
def store(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    lines = [orjson.dumps({"timestamp": T0 + i * 1000, "message": "flow", "name": name, **extra})
             for i, (name, extra) in enumerate(EVENTS.items())]
    report = import_logs(store, b"\n".join(lines) + b"\n", log_group="/vpc/flows")
    assert report.imported == len(EVENTS) and not report.errors
    yield store
    store.close()


def values(query, expression: str) -> dict:
    """The value of ``expression`` for each event, by name."""
    return dict(query(f"fields name, {expression} as v | sort name asc")["rows"])


def only(*names: str, value=1, other=0) -> dict:
    return {n: value if n in names else other for n in NAMES}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("isValidIp(addr)", only("doc4", "private4", "public4", "doc6", "public6", "mapped")),
        ("isValidIpV4(addr)", only("doc4", "private4", "public4")),
        ("isValidIpV6(addr)", only("doc6", "public6", "mapped")),  # an IPv4 tail is still IPv6
        ("isIpInSubnet(addr, '192.0.2.0/24')", only("doc4")),  # ::ffff:192.0.2.1 is IPv6, the block IPv4
        ("isIpInSubnet(addr, '2001:db8::/32')", only("doc6")),
        ("isIpInSubnet(addr, net)", only("doc4")),  # the block from a field; 10.1.2.3 is not in 10.0.0.0/16
        ("isIpInSubnet(addr, '0.0.0.0/0')", only("doc4", "private4", "public4")),
        ("isIpInSubnet(addr, '::/0')", only("doc6", "public6", "mapped")),
        ("isIpv4InSubnet(addr, '10.0.0.0/8')", only("private4")),
        ("isIpv4InSubnet(addr, '2001:db8::/32')", only()),  # an IPv6 block
        ("isIpv6InSubnet(addr, '::ffff:0:0/96')", only("mapped")),
        ("isIpv6InSubnet(addr, '192.0.2.0/24')", only()),
        ("isIpInSubnet(addr, '192.0.2.10/32')", only("doc4")),
        ("isIpInSubnet(addr, '192.0.2.77/24')", only("doc4")),  # host bits in the block: only its prefix counts
        ("isIpInSubnet(addr, '2001:db8::/128')", only()),
        ("isIpInSubnet(addr, '2001:db8::1/128')", only("doc6")),
        ("isPrivateIP(addr)", only("private4")),
        ("isReservedIP(addr)", only("doc4", "doc6", "mapped")),  # documentation blocks, IPv4-mapped
        ("isPublicIP(addr)", only("public4", "public6")),
        ("ipv4ToNumber(addr)", {**only(other=None), "doc4": 3221225994, "private4": 167838211, "public4": 134744072}),
    ],
)
def test_ip_functions(query, expression, expected):
    """Each function on every event: true for what it describes, false (or null) for the rest."""
    assert values(query, expression) == expected


@pytest.mark.parametrize("cidr", ["192.0.2.0/33", "192.0.2.0", "192.0.2.0/", "/24", "192.0.2/24", "x/8", "",
                                  "192.0.2.0/24/1", "2001:db8::/129", "192.0.2.0/-1"])
def test_a_bad_block_is_false(query, cidr):
    """A block that is not CIDR notation, or whose prefix is too long, contains nothing."""
    assert set(values(query, f"isIpInSubnet(addr, '{cidr}')").values()) == {0}


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1:2:3:4:5:6:7:8", 1), ("::", 1), ("::1", 1), ("1::", 1), ("1:2:3:4:5:6:7::", 1), ("ABCD:ef01::9", 1),
        ("1:2:3:4:5:6:1.2.3.4", 1), ("::1.2.3.4", 1),
        ("1:2:3:4:5:6:7:8:9", 0), ("1:2:3:4::5:6:7:8", 0), ("1::2::3", 0), ("1:::2", 0), (":1", 0), ("1:", 0),
        (":1::2", 0), ("1::2:", 0), ("12345::", 0), ("gggg::", 0), ("fe80::1%eth0", 0), ("::ffff:1.2.3.256", 0),
        ("1:2:3:4:5:6:7:1.2.3.4", 0), ("1.2.3.4::", 0), ("1.2.3.4", 0),
    ],
)
def test_ipv6_text(query, text, valid):
    """RFC 4291 text: eight groups, or fewer around one "::", with an optional IPv4 tail; no zone."""
    assert set(values(query, f"isValidIpV6('{text}')").values()) == {valid}


@pytest.mark.parametrize(("text", "valid"), [("0.0.0.0", 1), ("255.255.255.255", 1), ("01.2.3.4", 0),
                                             ("1.2.3", 0), ("1.2.3.4.5", 0), (" 1.2.3.4", 0), ("1.2.3.-4", 0)])
def test_ipv4_text(query, text, valid):
    """Dotted decimal: four numbers up to 255, without leading zeros or spaces."""
    assert set(values(query, f"isValidIpV4('{text}')").values()) == {valid}


def test_the_documented_vpc_flow_log_query(query):
    """The documentation's example: bytes to each destination from hosts in a subnet."""
    result = query("filter isIpv4InSubnet(addr, '192.0.2.0/24') or isIpv4InSubnet(addr, '10.0.0.0/8')"
                   " | stats sum(bytes) as bytesTransferred by dstAddr | sort bytesTransferred desc | limit 15")
    assert result["rows"] == [["198.51.100.1", 107]]
