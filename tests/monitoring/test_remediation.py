"""The remediation registry: handlers by name, every call recorded with its outcome."""

from __future__ import annotations

import threading

import pytest

from whispersync.monitoring.remediation import RemediationRegistry, RemediationRequest, default_registry

CALL = {"alarm": "HighQueueDepth", "state": "ALARM", "previous_state": "OK",
        "reason": "Threshold Crossed", "at_ms": 1_767_225_600_000}


def test_run_calls_the_named_handler_with_the_request_and_returns_its_result():
    registry = RemediationRegistry()
    seen: list[RemediationRequest] = []
    registry.register("scale_up", lambda request: seen.append(request) or {"concurrency": 100})
    assert registry.run("scale_up", **CALL) == {"concurrency": 100}
    assert seen == [RemediationRequest(handler="scale_up", **CALL)]
    [call] = registry.calls
    assert call["ok"] is True and call["result"] == {"concurrency": 100}
    assert call["handler"] == "scale_up" and call["alarm"] == "HighQueueDepth"
    assert call["called_at"] > 0


def test_a_failing_handler_raises_and_its_error_is_recorded():
    registry = RemediationRegistry()

    def broken(request: RemediationRequest) -> None:
        raise RuntimeError("pool is at its maximum")

    registry.register("scale_up", broken)
    with pytest.raises(RuntimeError):
        registry.run("scale_up", **CALL)
    [call] = registry.calls
    assert call["ok"] is False
    assert call["error"] == "RuntimeError: pool is at its maximum"


def test_an_unknown_handler_is_a_key_error_naming_the_registered_ones_and_is_recorded():
    registry = RemediationRegistry()
    registry.register("restart", lambda request: None)
    registry.register("scale_up", lambda request: None)
    with pytest.raises(KeyError, match="registered: restart, scale_up"):
        registry.run("scale_down", **CALL)
    assert registry.calls[0]["ok"] is False and registry.calls[0]["handler"] == "scale_down"
    with pytest.raises(KeyError, match="registered: none"):
        RemediationRegistry().run("scale_up", **CALL)


def test_registering_again_replaces_the_handler():
    """A later issue's real scale-up takes over the name the plan's alarm action uses."""
    registry = default_registry()
    registry.register("scale_up", lambda request: "scaled")
    assert registry.run("scale_up", **CALL) == "scaled"
    assert registry.names() == ["redrive_transient", "scale_up"]


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_handler_needs_a_non_empty_name(name):
    with pytest.raises(ValueError):
        RemediationRegistry().register(name, lambda request: None)


def test_a_handler_must_be_callable():
    with pytest.raises(TypeError):
        RemediationRegistry().register("scale_up", "not a function")


def test_only_the_last_keep_calls_are_kept():
    registry = RemediationRegistry(keep=3)
    registry.register("h", lambda request: request.at_ms)
    for at in range(5):
        registry.run("h", **{**CALL, "at_ms": at})
    assert [c["result"] for c in registry.calls] == [2, 3, 4]


def test_calls_from_many_threads_are_all_recorded():
    registry = RemediationRegistry()
    registry.register("h", lambda request: None)
    threads = [threading.Thread(target=lambda: [registry.run("h", **CALL) for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(registry.calls) == 200


def test_the_default_registry_has_the_plan_s_scale_up_which_only_records_the_request():
    registry = default_registry()
    assert registry.names() == ["redrive_transient", "scale_up"]
    result = registry.run("scale_up", **CALL)
    assert result["scaled"] is False
    assert (result["alarm"], result["state"]) == ("HighQueueDepth", "ALARM")


def test_the_default_registry_s_redrive_says_it_is_not_bound_instead_of_failing_the_alarm_action():
    """Outside `up` no dead-letter queue is bound; the DLQ alarm's action still succeeds, moving nothing."""
    result = default_registry().run("redrive_transient", **{**CALL, "alarm": "DLQMessages"})
    assert result["result"] == "unbound" and result["alarm"] == "DLQMessages"
