"""`hotfix canary` and `hotfix monitor` through click's CliRunner, reading back GITHUB_OUTPUT and the step summary."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hotfix_actions.cli import cli
from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import LockConfig
from hotfix_actions.decide.canary.observe import Poll, QueryResult
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.kube import ConnectOptions, connect
from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.sample_app import Knobs
from hotfix_actions.services import promote
from hotfix_actions.services.canary_loop import poll_to_json
from tests.canary.stack import HEALTHY, Stack, stack
from tests.kube.kubefix import FAST, GOOD, GOOD2, NS, context, deployment, image_of, start_sandbox
from tests.metrics import slow_server

CONFIG = """\
version: 1
canary:
  min_requests: 100
  scrape_interval: 1s
  ready_timeout: 4s
  monitor: {interval: 1s, duration: 8s}
rollback:
  wait_timeout: 20
  lock: {ttl_seconds: 30, timeout_seconds: 2}
"""


def outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT's ``name<<delimiter`` blocks."""
    found: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        name, _, delimiter = lines[i].partition("<<")
        end = lines.index(delimiter, i + 1)
        found[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return found


def invoke(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, extra_config: str = ""
) -> tuple[Result, dict[str, str], str]:
    out, summary = tmp_path / "output.txt", tmp_path / "summary.md"
    out.write_text("")
    summary.write_text("")
    config = tmp_path / "hotfix.yml"
    config.write_text(CONFIG.replace("canary:\n", "canary:\n" + extra_config))
    full_env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    full_env.update(env or {})
    result = CliRunner().invoke(cli, [args[0], "--config", str(config), *args[1:]], env=full_env)
    return result, outputs(out), summary.read_text(encoding="utf-8")


def one(value: float) -> QueryResult:
    return QueryResult((((("instance", "a:1"),), value),))


def recorded_polls(path: Path, canary_errors: list[int], baseline_errors: list[int], per_poll: int = 100) -> None:
    """Synthesised --record output: cumulative counters per poll, histogram of fast requests."""
    lines = []
    for k, (ce, be) in enumerate(zip(canary_errors, baseline_errors, strict=True)):
        results = {}
        for role, errors in (("canary", ce), ("baseline", be)):
            n = float(per_poll * k)
            buckets = [((("instance", "a:1"), ("le", le)), n) for le in ("0.1", "0.25", "0.5", "1.0", "2.0", "+Inf")]
            results[role] = {
                "requests": one(n),
                "errors": one(float(errors)),
                "latency": QueryResult(tuple(buckets)),
            }
        lines.append(poll_to_json(Poll(float(k), 1_700_000_000.0 + k, results, {"canary": (1, 1)})))
    path.write_text("\n".join(lines) + "\n")


def test_replay_fail_writes_outputs_and_summary(tmp_path: Path) -> None:
    polls = tmp_path / "polls.jsonl"
    recorded_polls(polls, [0, 5, 10, 15, 20], [0, 0, 0, 0, 0])
    result, out, summary = invoke(tmp_path, "canary", "--replay", str(polls))
    assert result.exit_code == 1, result.output
    assert out["verdict"] == "FAIL"
    assert out["rule"] == "sequential test (errors)"
    assert out["canary-requests"] == "200" and out["canary-errors"] == "10"
    assert float(out["e-value-errors"]) >= 200
    assert "canary worse than baseline" in json.loads(out["reasons"])[0]
    assert "| # | elapsed | canary requests |" in summary
    assert summary.count("xychart-beta") == 2  # error rate and p95, canary against baseline
    assert "starting point recorded" in result.output


def test_replay_pass_and_chart(tmp_path: Path) -> None:
    polls = tmp_path / "polls.jsonl"
    recorded_polls(polls, [0, 0, 1, 1, 1, 2], [0, 1, 1, 2, 2, 2])
    result, out, summary = invoke(tmp_path, "canary", "--replay", str(polls), "--duration", "5s", "--interval", "1s")
    assert result.exit_code == 0, result.output
    assert out["verdict"] == "PASS" and out["rule"] == "duration complete"
    assert summary.count("xychart-beta") == 2
    assert "guardrail max 5.00%" in summary and "guardrail max 2.00s" in summary
    assert 'x-axis "elapsed (s)" [1, 2, 3, 4, 5]' in summary
    # what the PASS means: the smallest regression this traffic could have shown, in the outputs and the summary
    assert out["detectable-errors"].startswith("errors: a canary rate of ")
    assert "requests slower than 250ms: a canary rate of" in out["detectable-latency"]
    assert "What this run could have detected" in summary and "| errors | " in summary


def test_replay_json_reports_the_detectable_effect_and_require_power(tmp_path: Path) -> None:
    polls = tmp_path / "polls.jsonl"
    recorded_polls(polls, [0, 0, 1, 1, 1, 2], [0, 1, 1, 2, 2, 2])
    args = ("canary", "--replay", str(polls), "--duration", "5s", "--interval", "1s", "--json")
    result, _, _ = invoke(tmp_path, *args)
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "PASS" and doc["outputs"]["detectable-errors"].startswith("errors: a canary rate of")
    result, _, _ = invoke(tmp_path, *args, extra_config="  require_power: true\n")
    doc = json.loads(result.stdout)
    assert result.exit_code == 3
    assert doc["verdict"] == "INCONCLUSIVE" and doc["outputs"]["rule"] == "under-powered"
    assert any("could not detect" in r for r in doc["reasons"])


def test_replay_too_little_traffic_exits_3(tmp_path: Path) -> None:
    polls = tmp_path / "polls.jsonl"
    recorded_polls(polls, [0, 0, 0], [0, 0, 0], per_poll=10)
    result, out, _ = invoke(tmp_path, "canary", "--replay", str(polls))
    assert result.exit_code == 3
    assert out["verdict"] == "INCONCLUSIVE" and out["rule"] == "insufficient traffic"


def test_replay_of_a_broken_file_is_a_usage_error(tmp_path: Path) -> None:
    polls = tmp_path / "polls.jsonl"
    polls.write_text('{"elapsed": 1}\n')
    result, out, _ = invoke(tmp_path, "canary", "--replay", str(polls))
    assert result.exit_code == 2
    assert "polls.jsonl:1: not a recorded poll" in json.loads(out["reasons"])[0]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--image", "web:1.1"], "--deployment: missing"),
        (["-d", "Web_1", "--prometheus-url", "http://127.0.0.1:9"], "--deployment"),
        (["-d", "web", "--image", "bad image!", "--prometheus-url", "http://127.0.0.1:9"], "--image"),
        (["-d", "web"], "no Prometheus URL"),
        (["--replay", "x", "--from", "-5m"], "does not exist"),
        (["-d", "web", "--interval", "ten", "--prometheus-url", "http://127.0.0.1:9"], "not a duration"),
        (["-d", "web", "--to", "now", "--prometheus-url", "http://127.0.0.1:9"], "--to needs --from"),
        (
            ["-d", "web", "--from", "-5m", "--prometheus-url", "http://prometheus.monitoring.svc:9090"],
            "plain http to a host that is not loopback",
        ),
        (
            [
                "-d",
                "web",
                "--from",
                "-5m",
                "--prometheus-url",
                "http://127.0.0.1.evil.example:9090",
                "--prometheus-token",
                "s3cret",
            ],
            "the bearer token would cross the network in clear text",
        ),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], text: str) -> None:
    result, _, _ = invoke(tmp_path, "canary", *args)
    assert result.exit_code == 2, result.output
    assert text in result.output


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("prom")) as s:
        yield s


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox() as sb:
        yield sb


def _canary(sandbox: Sandbox, tmp_path: Path, live: Stack, *extra: str) -> tuple[Result, dict[str, str], str]:
    return invoke(
        tmp_path,
        "canary",
        "-d",
        "web",
        "--image",
        GOOD2,
        "--interval",
        "1s",
        "--duration",
        "6s",
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "--prometheus-url",
        live.prom.url,
        *extra,
    )


@pytest.mark.prometheus
def test_canary_end_to_end_pass_then_fail_rolls_back(sandbox: Sandbox, live: Stack, tmp_path: Path) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    live.reset()
    record = tmp_path / "polls.jsonl"
    result, out, summary = _canary(sandbox, tmp_path, live, "--record", str(record))
    assert result.exit_code == 0, result.output
    assert out["verdict"] == "PASS" and out["canary"] == "web-canary" and out["rolled-back"] == "false"
    canary = sandbox.get("apps/v1", "deployments", NS, "web-canary")
    assert canary is not None and image_of(sandbox, "web-canary") == GOOD2
    assert canary["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
    assert canary["spec"]["replicas"] == 1
    assert image_of(sandbox) == GOOD  # the primary is untouched
    assert "web-canary created" in result.output and "so far" in result.output
    assert int(out["canary-requests"]) >= 100 and int(out["intervals"]) == 6

    replayed, replay_out, _ = invoke(
        tmp_path, "canary", "--replay", str(record), "--interval", "1s", "--duration", "6s"
    )
    assert replayed.exit_code == 0 and replay_out["verdict"] == "PASS"
    assert replay_out["canary-requests"] == out["canary-requests"]

    live.reset(canary=Knobs(error_rate=0.2, latency_median=0.02, latency_sigma=0.3, load_rps=60.0))
    result, out, summary = _canary(sandbox, tmp_path, live, "--duration", "20s")
    assert result.exit_code == 1, result.output
    assert out["verdict"] == "FAIL" and out["rolled-back"] == "true"
    assert "updated (was" in result.output
    canary = sandbox.get("apps/v1", "deployments", NS, "web-canary")
    assert canary is not None and canary["spec"]["replicas"] == 0
    assert "scaled web-canary to 0 replicas" in json.loads(out["reasons"])[-1]
    assert "❌" in summary and "rollback" in summary

    past, past_out, _ = invoke(
        tmp_path,
        "canary",
        "-d",
        "web",
        "--from",
        "-8s",
        "--interval",
        "1s",
        "--duration",
        "8s",
        "--prometheus-url",
        live.prom.url,
    )
    assert past_out["verdict"] in {"FAIL", "PASS", "INCONCLUSIVE"} and "intervals" in past_out, past.output
    assert past_out["verdict"] == "FAIL", past.output  # the last 8 s were the failing canary
    live.reset(canary=HEALTHY)


@pytest.mark.prometheus
def test_canary_that_never_gets_ready_is_rolled_back(sandbox: Sandbox, live: Stack, tmp_path: Path) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    result, out, _ = invoke(
        tmp_path,
        "canary",
        "-d",
        "web",
        "--image",
        "registry.example/web:nopull",  # never pulls, so never Ready (:bad becomes Ready, then crashes)
        "--rollback",
        "primary-image",
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "--prometheus-url",
        live.prom.url,
    )
    assert result.exit_code == 1, result.output
    assert out["rolled-back"] == "true"
    assert "did not become Ready" in json.loads(out["reasons"])[0]
    assert image_of(sandbox, "web-canary") == GOOD  # back to the primary's image


def test_prometheus_down_deploys_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.apply(deployment(image=GOOD))
    result, out, _ = invoke(
        tmp_path,
        "canary",
        "-d",
        "web",
        "--image",
        GOOD2,
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "--prometheus-url",
        "http://127.0.0.1:9",
    )
    assert result.exit_code == 3, result.output
    assert out["verdict"] == "ERROR" and "Prometheus query failed" in out["reasons"]
    assert sandbox.get("apps/v1", "deployments", NS, "web-canary") is None


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_a_hung_prometheus_says_so_and_how_to_test_it_and_deploys_nothing(
    sandbox: Sandbox, tmp_path: Path, mode: str
) -> None:
    sandbox.apply(deployment(image=GOOD))
    with slow_server.running(mode) as url:
        began = time.monotonic()
        result, out, _ = invoke(
            tmp_path,
            "canary",
            "-d",
            "web",
            "--image",
            GOOD2,
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--prometheus-url",
            url,
            extra_config="  query_timeout: 1\n",
        )
        took = time.monotonic() - began
    assert result.exit_code == 3, result.output
    assert took < 10
    reasons = json.loads(out["reasons"])
    assert f"Prometheus at {url} did not answer within 1s (the query deadline" in reasons[0]
    assert f"curl -sS --max-time 1 '{url}/api/v1/query?query=vector(1)'" in result.output
    assert "server load" not in result.output
    assert sandbox.get("apps/v1", "deployments", NS, "web-canary") is None


def test_a_past_range_against_a_trickling_prometheus_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with slow_server.running("trickle") as url:
        began = time.monotonic()
        result, out, _ = invoke(
            tmp_path,
            "canary",
            "-d",
            "web",
            "--from",
            "-2m",
            "--prometheus-url",
            url,
            "--interval",
            "15s",
            extra_config="  query_timeout: 1\n  consecutive_error_limit: 2\n",
        )
        took = time.monotonic() - began
    assert result.exit_code == 3, result.output
    assert out["verdict"] == "ERROR" and out["rule"] == "consecutive measurement errors"
    assert "did not answer within 1s" in out["reasons"]
    assert took < 2 * (1 + 1) + 3  # two polls at their deadline, plus start-up


def _promote_twice(sandbox: Sandbox) -> None:
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path)), FAST, poll_interval=0.05) as cluster:
        sandbox.apply(deployment(image=GOOD))
        sandbox.wait_rollout(NS, "web")
        for image in (GOOD, GOOD2):
            outcome = promote.run(
                promote.PromoteRequest(namespace=NS, deployment="web", image=image, run_id="promote-run"),
                PromoteConfig(wait_timeout=20),
                LockConfig(ttl_seconds=30, timeout_seconds=2),
                context(cluster),
            )
            assert outcome.verdict is Verdict.PASS, outcome.reasons


@pytest.mark.prometheus
def test_monitor_rolls_back_a_failing_release(sandbox: Sandbox, live: Stack, tmp_path: Path) -> None:
    """The promoted release (the last-known-good) fails: roll back to the release recorded before it."""
    _promote_twice(sandbox)
    live.reset(baseline=Knobs(error_rate=0.3, latency_median=0.02, latency_sigma=0.3, load_rps=60.0))
    try:
        result, out, summary = invoke(
            tmp_path,
            "monitor",
            "-d",
            "web",
            "--strategy",
            "undo",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--prometheus-url",
            live.prom.url,
        )
    finally:
        live.reset()
    assert result.exit_code == 1, result.output
    assert out["verdict"] == "FAIL" and out["rolled-back"] == "true", result.output
    assert "guardrail error rate" in json.loads(out["reasons"])[0]
    assert image_of(sandbox) == GOOD
    assert "Monitor of web" in summary


@pytest.mark.prometheus
def test_monitor_of_a_healthy_release_passes(sandbox: Sandbox, live: Stack, tmp_path: Path) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    live.reset()
    result, out, _ = invoke(
        tmp_path,
        "monitor",
        "-d",
        "web",
        "--duration",
        "4s",
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "--prometheus-url",
        live.prom.url,
    )
    assert result.exit_code == 0, result.output
    assert out["verdict"] == "PASS" and out["rolled-back"] == "false"
    assert image_of(sandbox) == GOOD


@pytest.mark.prometheus
def test_monitor_says_when_the_rollback_changed_nothing(sandbox: Sandbox, live: Stack, tmp_path: Path) -> None:
    _promote_twice(sandbox)
    live.reset(baseline=Knobs(error_rate=0.3, latency_median=0.02, latency_sigma=0.3, load_rps=60.0))
    try:
        result, out, _ = invoke(
            tmp_path,
            "monitor",
            "-d",
            "web",
            "--to",
            "lkg",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--prometheus-url",
            live.prom.url,
        )
    finally:
        live.reset()
    assert result.exit_code == 1, result.output
    assert out["verdict"] == "FAIL" and out["rolled-back"] == "false"
    assert "nothing was changed" in json.loads(out["reasons"])[-1]
    assert image_of(sandbox) == GOOD2
