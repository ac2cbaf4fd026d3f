"""The Prometheus adapter: answers and failures through httpx's MockTransport, then against the real server."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hotfix_actions.errors import MetricsError, UsageError
from hotfix_actions.metrics import PrometheusMetrics
from hotfix_actions.metrics.prometheus import prometheus_url_problem
from hotfix_actions.ports import MetricSample, NullMetrics
from hotfix_actions.sandbox.prometheus_runner import PrometheusRunner, Target, free_port
from hotfix_actions.sandbox.sample_app import Knobs, SampleApp
from tests.metrics import slow_server


def client(handler: Callable[[httpx.Request], httpx.Response]) -> PrometheusMetrics:
    return PrometheusMetrics("https://prom.example:9090/", transport=httpx.MockTransport(handler))


def answer(data: object, status: int = 200, state: str = "success", **extra: object) -> httpx.Response:
    return httpx.Response(status, json={"status": state, "data": data, **extra})


def test_vector_samples_with_sorted_labels_and_special_values() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(
            {
                "resultType": "vector",
                "result": [
                    {"metric": {"instance": "a:1", "code": "500"}, "value": [1700000000.0, "12"]},
                    {"metric": {}, "value": [1700000000.0, "NaN"]},
                    {"metric": {"le": "+Inf"}, "value": [1700000000.0, "+Inf"]},
                ],
            }
        )

    samples = client(handler).query("sum(x)", at=1700000000.5)
    assert samples[0] == MetricSample((("code", "500"), ("instance", "a:1")), 12.0)
    assert math.isnan(samples[1].value) and samples[2].value == math.inf
    request = seen[0]
    assert request.url.path == "/api/v1/query"
    assert request.url.params["query"] == "sum(x)" and request.url.params["time"] == "1700000000.500"


def test_empty_vector_is_an_empty_list_not_an_error() -> None:
    assert client(lambda r: answer({"resultType": "vector", "result": []})).query("x", at=1.0) == []


def test_scalar_result() -> None:
    got = client(lambda r: answer({"resultType": "scalar", "result": [1.0, "1"]})).query("vector(1)", at=1.0)
    assert got == [MetricSample((), 1.0)]


@pytest.mark.parametrize(
    ("response", "text"),
    [
        (answer(None, 400, "error", errorType="bad_data", error="parse error"), "bad_data: parse error"),
        (answer({"resultType": "vector", "result": []}, 503), "HTTP 503"),
        (httpx.Response(502, text="<html>bad gateway</html>"), "HTTP 502 without a JSON body"),
        (answer({"resultType": "matrix", "result": []}), "expected an instant vector, got a matrix"),
        (answer({"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]}), "malformed sample"),
        (answer({"resultType": "vector", "result": [{"value": [1, "1"]}]}), "malformed series"),
        (answer(None), "no data"),
    ],
)
def test_failures_are_metrics_errors(response: httpx.Response, text: str) -> None:
    with pytest.raises(MetricsError, match=text):
        client(lambda r: response).query("x", at=1.0)


def test_transport_failures_are_metrics_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(MetricsError, match="connection refused") as refused:
        client(refuse).query("x", at=1.0)
    assert refused.value.fix and "reachable" in refused.value.fix
    with pytest.raises(MetricsError, match="did not answer within 10s") as late:
        client(slow).query("x", at=1.0)
    assert late.value.fix and "curl -sS --max-time 10 'https://prom.example:9090/api/v1/query?query=vector(1)'" in (
        late.value.fix
    )


def test_bearer_token_is_sent_and_urls_with_credentials_refused() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return answer({"resultType": "vector", "result": []})

    PrometheusMetrics("https://p:9090", bearer_token="s3cret", transport=httpx.MockTransport(handler)).query("x", at=1)
    assert seen == ["Bearer s3cret"]
    with pytest.raises(UsageError, match="user name or password"):
        PrometheusMetrics("https://user:pw@p:9090")
    with pytest.raises(UsageError, match="not an http"):
        PrometheusMetrics("ftp://p")


@pytest.mark.parametrize(
    ("url", "token", "plain", "problem"),
    [
        ("https://prom.example", True, False, None),
        ("http://127.0.0.1:9090", True, False, None),
        ("http://[::1]:9090", True, False, None),
        ("http://localhost:9090", True, False, None),
        # a token never goes over plain http to another host, whatever the settings say
        ("http://prometheus.monitoring.svc:9090", True, False, "clear text"),
        ("http://prometheus.monitoring.svc:9090", True, True, "clear text"),
        ("http://127.0.0.1.evil.example:9090", True, False, "clear text"),
        ("http://10.0.0.7:9090", True, True, "clear text"),
        # without a token, plain http inside the cluster only when allowed explicitly
        ("http://prometheus.monitoring.svc:9090", False, False, "allow_plain_http"),
        ("http://prometheus.monitoring.svc:9090", False, True, None),
        ("https://user:pw@prom.example", False, False, "user name or password"),
        ("file:///etc/passwd", False, True, "not an http"),
        ("https://a b.example", False, False, "not a single URL"),
    ],
)
def test_prometheus_url_passes_the_credentialed_url_allowlist(
    url: str, token: bool, plain: bool, problem: str | None
) -> None:
    got = prometheus_url_problem(url, token=token, allow_plain_http=plain)
    if problem is None:
        assert got is None
        return
    assert got is not None and problem in got
    sent: list[httpx.Request] = []
    with pytest.raises(UsageError, match="--prometheus-url"):
        PrometheusMetrics(
            url,
            bearer_token="s3cret" if token else None,
            allow_plain_http=plain,
            transport=httpx.MockTransport(lambda r: sent.append(r) or answer({"resultType": "vector", "result": []})),
        )
    assert sent == []  # refused before any request


def _query_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "prometheus-query" and t.is_alive()]


@pytest.mark.parametrize("mode", ["hang", "trickle", "slow-headers"])
def test_a_hung_or_trickling_server_is_cut_at_the_deadline(mode: str) -> None:
    """A real server process on 127.0.0.1: hangs, trickles a body, or trickles its headers. The query raises at
    the deadline (connect and every read included), names the deadline and the curl to run, and its worker ends."""
    with slow_server.running(mode) as url, PrometheusMetrics(url, deadline=1.0) as metrics:
        began = time.monotonic()
        with pytest.raises(MetricsError, match=r"did not answer within 1s") as late:
            metrics.query("vector(1)", at=1.0)
        took = time.monotonic() - began
        assert 0.9 <= took <= 1.5, took
        assert late.value.fix and f"curl -sS --max-time 1 '{url}/api/v1/query?query=vector(1)'" in late.value.fix
        assert "check the server load" not in str(late.value)
        deadline = time.monotonic() + 2.0
        while _query_threads() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _query_threads() == []  # the socket was shut: the worker did not keep reading the trickle


def test_a_server_that_answers_in_time_is_read() -> None:
    with slow_server.running("ok") as url, PrometheusMetrics(url, deadline=2.0) as metrics:
        assert metrics.query("vector(1)", at=1.0) == []


def test_null_metrics_never_answers() -> None:
    with pytest.raises(MetricsError, match="no Prometheus URL"):
        NullMetrics().query("vector(1)", at=1.0)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusRunner, SampleApp]]:
    with SampleApp.start(Knobs(error_rate=0.5, load_rps=40)) as app:
        labels = {"namespace": "default", "deployment": "web"}
        with PrometheusRunner.start(tmp_path_factory.mktemp("prom"), [Target(app.address, labels)]) as prom:
            prom.wait_for_targets(1)
            yield prom, app


@pytest.mark.prometheus
def test_against_the_real_server(real: tuple[PrometheusRunner, SampleApp]) -> None:
    prom, app = real
    time.sleep(1.5)
    with PrometheusMetrics(prom.url) as metrics:
        now = time.time()
        total = metrics.query('sum by (instance) (http_requests_total{deployment="web"})', at=now)
        assert len(total) == 1 and dict(total[0].labels) == {"instance": app.address} and total[0].value > 0
        assert metrics.query('http_requests_total{deployment="nope"}', at=now) == []
        assert math.isnan(metrics.query("sum(http_requests_total) / 0 * 0", at=now)[0].value)
        buckets = metrics.query('sum by (le) (http_request_duration_seconds_bucket{deployment="web"})', at=now)
        assert {dict(s.labels)["le"] for s in buckets} == {"0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "5.0", "+Inf"}
        with pytest.raises(MetricsError, match="bad_data"):
            metrics.query("sum(", at=now)
        with pytest.raises(MetricsError, match="expected an instant vector"):
            metrics.query("http_requests_total[1m]", at=now)


@pytest.mark.prometheus
def test_sample_app_knobs_over_http(real: tuple[PrometheusRunner, SampleApp]) -> None:
    _, app = real
    with httpx.Client(base_url=app.url) as http:
        assert http.get("/healthz").text == "ok\n"
        changed = http.post("/control", content=json.dumps({"error_rate": 1.0, "load_rps": 0}))
        assert changed.status_code == 200 and changed.json()["error_rate"] == 1.0
        assert http.get("/").status_code == 500
        assert http.post("/control", content=json.dumps({"error_rate": 2})).status_code == 400
        assert http.post("/control", content=json.dumps({"bogus": 1})).status_code == 400
        http.post("/control", content=json.dumps({"error_rate": 0.0}))
        assert http.get("/").status_code == 200
        text = http.get("/metrics").text
        assert 'http_requests_total{code="500",method="GET",path="/"}' in text
        assert 'http_request_duration_seconds_bucket{le="0.25",method="GET",path="/"}' in text
        http.post("/control", content=json.dumps({"error_rate": 0.5, "load_rps": 40}))


def test_runner_reports_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        PrometheusRunner.start(tmp_path, binary=str(tmp_path / "no-such-prometheus"))


def test_free_ports_are_bindable_and_outside_the_range_client_sockets_take() -> None:
    """A port for a test server is chosen below the kernel's ephemeral range, where outgoing connections of other
    test workers cannot take it between choosing and binding; each one binds."""
    import socket

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(40)]
    assert len(set(ports)) > 30  # chosen at random, not one fixed port
    for port in ports:
        assert 10000 <= port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
