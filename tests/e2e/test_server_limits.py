"""The HTTP server's connection limits, on a real `whispersync up`: slow clients are cut
off, a connection flood is refused at the door, and a stop finishes in bounded time."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx
import orjson
import pytest

from helpers import run_cli, wait_until

pytestmark = pytest.mark.e2e

SLOW_CLIENTS = 50
# Sent a byte at a time and never finished: the blank line that ends the headers never comes.
DRIBBLE = b"X-Slow: 1\r\n"


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _connect(url: str, first: bytes = b"") -> socket.socket:
    """A raw connection that has sent `first`, its `%s` replaced by the Host the server answers to."""
    sock = socket.create_connection(_address(url), timeout=5)
    if first:
        sock.sendall(first % url.removeprefix("http://").encode())
    sock.setblocking(False)
    return sock


def _closed_by_server(sock: socket.socket, received: bytearray) -> bool:
    """Read what is there without blocking; True once the server has closed the connection."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
            received += data
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def _healthz_seconds(client: httpx.Client) -> float:
    started = time.monotonic()
    assert client.get("/healthz").status_code == 200
    return time.monotonic() - started


def test_slow_header_clients_are_cut_off_while_healthz_stays_fast(server, cli_env) -> None:
    cli_env["WHISPERSYNC_HTTP_HEADER_TIMEOUT"] = "1"
    server.start()
    socks = [_connect(server.url, b"GET /healthz HTTP/1.1\r\nHost: %s\r\n") for _ in range(SLOW_CLIENTS)]
    received = {sock: bytearray() for sock in socks}
    open_socks = set(socks)
    slowest_healthz = 0.0
    deadline = time.monotonic() + 1 + 8  # the timeout, and room for a noisy machine
    with httpx.Client(base_url=server.url, timeout=5) as client:
        n = 0
        while open_socks and time.monotonic() < deadline:
            for sock in list(open_socks):
                if _closed_by_server(sock, received[sock]):
                    open_socks.discard(sock)
                    continue
                try:
                    sock.send(DRIBBLE[n % len(DRIBBLE):][:1])
                except OSError:
                    open_socks.discard(sock)
            n += 1
            slowest_healthz = max(slowest_healthz, _healthz_seconds(client))
            time.sleep(0.1)
    for sock in socks:
        sock.close()
    assert not open_socks, f"{len(open_socks)} of {SLOW_CLIENTS} slow clients still connected"
    assert slowest_healthz < 1.0, f"/healthz took {slowest_healthz:.2f}s while slow clients were connected"
    answers = [bytes(data) for data in received.values() if data]
    assert answers, "no slow client was told why it was cut off"
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[:3]
    assert server.terminate() == 0


def test_an_idle_connection_is_closed_after_the_keepalive_timeout(server, cli_env) -> None:
    cli_env["WHISPERSYNC_HTTP_KEEPALIVE_TIMEOUT"] = "1"
    server.start()
    sock = _connect(server.url, b"GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n")
    received = bytearray()
    wait_until(lambda: _closed_by_server(sock, received), timeout=1 + 2.5)  # uvicorn default: 5
    sock.close()
    assert received.startswith(b"HTTP/1.1 200 ")
    assert server.terminate() == 0


def test_connections_beyond_the_limit_are_refused_and_not_counted_as_5xx(server, cli_env) -> None:
    cli_env["WHISPERSYNC_HTTP_MAX_CONNECTIONS"] = "5"
    server.start()
    held = [_connect(server.url) for _ in range(5)]  # connected, silent
    with httpx.Client(base_url=server.url, timeout=5) as client:
        def refused() -> bool:
            try:
                return client.get("/healthz", headers={"Connection": "close"}).status_code == 503
            except httpx.TransportError:
                return True  # closed at accept before the answer arrived
        wait_until(refused, timeout=5)
        response = None
        for _ in range(20):  # the 503 itself, with the project's error shape
            try:
                response = client.get("/healthz", headers={"Connection": "close"})
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert response is not None and response.status_code == 503
        assert response.json()["error"]["code"] == "too_many_connections"
        for sock in held:
            sock.close()
        wait_until(lambda: client.get("/healthz").status_code == 200, timeout=5)
    assert server.terminate() == 0
    # The refusal is the server protecting itself, not an error of ours: the P1 alarm's count stays 0.
    got = run_cli(cli_env, "metrics", "get", "WhisperSync/Api", "5XXError", "--dim", "ApiName=whispersync-api",
                  "--stat", "Sum", "--json")
    assert got.returncode == 0, got.stderr
    assert sum(orjson.loads(got.stdout)["values"]) == 0, got.stdout


def _slow_clients(url: str) -> list[socket.socket]:
    """The clients that used to keep `up` from stopping: headers dribbled, a body
    never finished, and a kept-alive connection between requests."""
    socks = [_connect(url, b"GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Slow: ") for _ in range(10)]
    socks.append(_connect(url, b"POST /v1/transcripts HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
                               b"Content-Length: 1000\r\n\r\nNeed to ship"))
    socks.append(_connect(url, b"GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n"))
    return socks


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_up_in_bounded_time_with_slow_clients_connected(server, cli_env, sig) -> None:
    cli_env["WHISPERSYNC_SHUTDOWN_TIMEOUT"] = "2"
    server.start()
    socks = _slow_clients(server.url)
    time.sleep(0.3)  # the body's request has reached the app and waits for the rest
    started = time.monotonic()
    server.proc.send_signal(sig)
    try:
        code = server.proc.wait(2 + 8)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`up` still running {time.monotonic() - started:.0f}s after {sig.name}")
    finally:
        for sock in socks:
            sock.close()
    assert code == 0
    assert not (server.home / "server.json").exists()
    log = server.log.read_text()
    assert "Traceback" not in log, log


def test_a_second_sigint_stops_up_at_once(server, cli_env) -> None:
    cli_env["WHISPERSYNC_SHUTDOWN_TIMEOUT"] = "60"
    server.start()
    socks = _slow_clients(server.url)
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGINT)
    time.sleep(1)
    assert server.proc.poll() is None, "the first SIGINT should wait for the slow request"
    started = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    try:
        server.proc.wait(5)
    except subprocess.TimeoutExpired:
        pytest.fail("a second SIGINT did not stop `up`")
    finally:
        for sock in socks:
            sock.close()
    assert time.monotonic() - started < 5
    assert not (server.home / "server.json").exists()


def test_uvicorn_messages_stay_off_the_console(server) -> None:
    server.start()
    with socket.create_connection(_address(server.url), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert server.terminate() == 0
    log = server.log.read_text()
    assert "Invalid HTTP request" not in log and "Traceback" not in log, log
