from __future__ import annotations

import pytest

from whispersync.telemetry import MemorySink, Telemetry


class FakeClock:
    """A clock_ns that advances 1 ms per reading, starting 2026-11-27T13:45:01.123Z."""

    def __init__(self, start_ns: int = 1_795_787_101_123_000_000, step_ns: int = 1_000_000) -> None:
        self.now = start_ns
        self.step = step_ns

    def __call__(self) -> int:
        value = self.now
        self.now += self.step
        return value


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def telemetry(sink: MemorySink, clock: FakeClock) -> Telemetry:
    return Telemetry(sink, clock_ns=clock)
