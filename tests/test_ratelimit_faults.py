"""Redis broken for real under traffic (API.md §2, the degraded mode): a live `cielo serve`
whose private redis-server the test stops, freezes, replaces with a listener that never
answers, and brings back. Answers stay quick and correct, the limits still hold (counted in
the process), /readyz says `degraded`, the outage and the recovery are one log line each."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.support.live import LiveServer, RedisProcess, SilentListener
from tests.support.promo import SANDBOX, login_params, partner_app, sign_in_to_consent, tokens_for

pytestmark = pytest.mark.slow

# Seconds an answer may take while Redis is away: Redis's timeout (0.5 s, paid by the calls in
# flight when it goes), a password check (~0.2 s) and a loaded machine's slack. Without the
# timeout, a silent Redis held every request for as long as it stayed silent.
QUICK = 1.5
HOLDERS = {"ana": "390.533.447-05", "bia": "123.456.780-62", "carla": "987.654.320-29"}


class Traffic:
    """A partner calling GET /commercial-establishments ten times a second, in a thread; each
    answer's status, body and time are kept."""

    def __init__(self, server: LiveServer, headers: dict[str, str]) -> None:
        self._client = httpx.Client(base_url=server.url, headers=headers, timeout=10)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.answers: list[tuple[int | str, float]] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                response = self._client.get(SANDBOX + "/commercial-establishments")
                status: int | str = response.status_code if isinstance(response.json(), list) else "not a list"
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.answers.append((status, time.perf_counter() - started))
            self._stop.wait(0.1)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._client.close()


def _signed_up(client: httpx.Client) -> dict[str, str]:
    """A partner app and the holders (signed up while Redis answers); the partner's headers."""
    creds = partner_app(client)
    for name, cpf in HOLDERS.items():
        tokens_for(client, creds, cpf=cpf, email=f"{name}@example.com")
    client.creds = creds  # type: ignore[attr-defined]
    return {"Client-Id": creds.client_id, "Access-Token": creds.access_token}


def _six_wrong_passwords(client: httpx.Client, holder: str) -> list[tuple[int, float]]:
    creds = client.creds  # type: ignore[attr-defined]
    params = login_params(creds, cpf=HOLDERS[holder], email=f"{holder}@example.com")
    location = client.get(SANDBOX + "/login", params=params, follow_redirects=False).headers["location"]
    answers = []
    for _ in range(6):
        started = time.perf_counter()
        response, _ = sign_in_to_consent(client, SANDBOX, location, password="wrong password")
        answers.append((response.status_code, time.perf_counter() - started))
    return answers


def _timed(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.get(path)
    return response, time.perf_counter() - started


def _lines(server: LiveServer, text: str) -> int:
    return sum(text in line for line in server.log.splitlines())


def _recovers(server: LiveServer, client: httpx.Client, headers: dict[str, str], redis: RedisProcess) -> None:
    """Redis is back: the service finds it by itself, says so once, and counts in it again."""
    deadline = time.monotonic() + 10
    while client.get("/readyz").json()["status"] != "ready":
        assert time.monotonic() < deadline, "the service never found Redis again"
        time.sleep(0.1)
    assert client.get(SANDBOX + "/commercial-establishments", headers=headers).status_code == 200
    assert redis.keys() > 0  # the partner's window is in Redis again
    assert _lines(server, "limits are shared again") == 1


def _held_up(traffic: Traffic, wrong: list[tuple[int, float]], ready: tuple[httpx.Response, float]) -> None:
    statuses = {status for status, _ in traffic.answers}
    assert statuses == {200}, statuses  # correct answers: the partner's list, no error
    slowest = max(seconds for _, seconds in traffic.answers)
    assert slowest < QUICK, slowest
    assert [status for status, _ in wrong] == [400] * 5 + [429]  # the throttle holds
    assert max(seconds for _, seconds in wrong) < QUICK, wrong
    response, seconds = ready
    assert response.status_code == 200 and seconds < QUICK
    assert response.json() == {"status": "degraded", "checks": {"database": True, "redis": False}}


@pytest.fixture
def live(tmp_path, private_redis):
    server = LiveServer(tmp_path, None, extra_env={"CIELO_REDIS_URL": private_redis.url}).start()
    yield server
    server.stop()


def test_redis_stopped_under_traffic(live, private_redis):
    with httpx.Client(base_url=live.url, follow_redirects=True, timeout=10) as client:
        headers = _signed_up(client)
        assert private_redis.keys() > 0  # the limits are in Redis
        with Traffic(live, headers) as traffic:
            time.sleep(0.5)
            private_redis.stop()
            wrong = _six_wrong_passwords(client, "ana")
            ready = _timed(client, "/readyz")
            time.sleep(0.5)
        _held_up(traffic, wrong, ready)
        assert _lines(live, "is out of reach") == 1 and "Traceback" not in live.log

        private_redis.start()  # an empty Redis on the same port
        _recovers(live, client, headers, private_redis)


def test_redis_silent_under_traffic(live, private_redis):
    """Frozen (SIGSTOP: its port accepts connections and nothing answers, the connections open
    to it included), then replaced by a listener that accepts connections and never answers."""
    with httpx.Client(base_url=live.url, follow_redirects=True, timeout=10) as client:
        headers = _signed_up(client)
        with Traffic(live, headers) as frozen:
            time.sleep(0.5)
            private_redis.freeze()
            wrong = _six_wrong_passwords(client, "bia")
            ready = _timed(client, "/readyz")
            time.sleep(0.5)
        _held_up(frozen, wrong, ready)

        private_redis.kill()
        listener = SilentListener(private_redis.port)
        try:
            with Traffic(live, headers) as silent:
                wrong = _six_wrong_passwords(client, "carla")
                ready = _timed(client, "/readyz")
                time.sleep(1.5)  # the breaker's probes find the listener (and give up on it)
            _held_up(silent, wrong, ready)
            assert listener.accepted  # it was asked, and never answered
        finally:
            listener.close()
        lines = [line for line in live.log.splitlines() if "is out of reach" in line]
        assert len(lines) == 1 and "TimeoutError" in lines[0] and "Traceback" not in live.log

        private_redis.start()
        _recovers(live, client, headers, private_redis)
