"""The canary's starting point comes after the pods of its previous version are gone (on both clusters).

When `hotfix canary` updates a canary that was running, its old pods terminate with their grace period and can
still serve under the canary's labels; their requests must not count against the new version. The gate waits for
them, then one scrape interval, before its first reads. A created canary starts at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.kube import ConnectOptions, connect
from hotfix_actions.ports import MetricSample
from hotfix_actions.sandbox.pods import TERMINATE_DELAY
from hotfix_actions.services.canary import CanaryRequest, run
from hotfix_actions.services.canary_loop import settings_from_config
from hotfix_actions.services.canary_settle import settle_previous_pods
from tests.canary.stack import reporter, short_config, text
from tests.clusters import KubeUnderTest
from tests.kube.kubefix import FAST, GOOD, GOOD2, deployment

GRACE = 3


def _with_grace(obj: dict[str, Any], seconds: int) -> dict[str, Any]:
    """Pods that take ``seconds`` to stop once deleted (both clusters' kubelets read the annotation)."""
    template = obj["spec"]["template"]
    template["spec"]["terminationGracePeriodSeconds"] = seconds
    template["metadata"].setdefault("annotations", {})[TERMINATE_DELAY] = f"{seconds}s"
    return obj


@dataclass
class Counting:
    """A Prometheus double: counters that grow with the read time; it records every read and when it came."""

    reads: list[tuple[str, float]] = field(default_factory=list)

    def describe(self) -> str:
        return "counting double"

    def query(self, promql: str, *, at: float) -> list[MetricSample]:
        self.reads.append((promql, at))
        n = 20.0 * (at - 1_700_000_000.0)
        inst = (("instance", "a:1"),)
        if "bucket" in promql:
            return [MetricSample((*inst, ("le", le)), n) for le in ("0.25", "0.5", "1.0", "2.0", "+Inf")]
        if "5.." in promql:
            return [MetricSample(inst, 0.0)]
        return [MetricSample(inst, n)]


def _old_pods(kube: KubeUnderTest, image: str, selector: str = "app=web,track=canary") -> list[dict[str, Any]]:
    pods = kube.list("v1", "pods", kube.namespace, selector)
    return [p for p in pods if p["spec"]["containers"][0]["image"] == image]


@contextmanager
def _last_seen(kube: KubeUnderTest, image: str, selector: str = "app=web,track=canary") -> Iterator[list[float]]:
    """Watches for canary pods running ``image``; yields [t], t the wall time at which a list that still showed one
    began (so such a pod surely existed at or after t)."""
    seen = [0.0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            began = time.time()
            if _old_pods(kube, image, selector):
                seen[0] = began
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)


def test_an_updated_canary_is_read_only_after_its_previous_pods_are_gone(kube: KubeUnderTest) -> None:
    kube.apply(_with_grace(deployment(replicas=1, namespace=kube.namespace), GRACE))
    kube.wait_rollout(kube.namespace, "web")
    settings = settings_from_config(short_config(), interval="1s", duration="3s")
    assert settings.canary_lag == 1.0
    request = CanaryRequest(namespace=kube.namespace, deployment="web", image=GOOD, replicas=1)
    with connect(ConnectOptions(kubeconfig=str(kube.kubeconfig_path)), FAST) as cluster:
        # first run: the canary is created, nothing of an earlier version exists, no wait
        rep, metrics = reporter(), Counting()
        first = run(request, settings, cluster=cluster, metrics=metrics, reporter=rep)
        assert "previous pods" not in [row.check for row in first.rows], text(rep)
        assert "waiting up to" not in text(rep)

        # second run: a new image on the running canary; its old pods terminate for GRACE seconds
        rep, metrics = reporter(), Counting()
        with _last_seen(kube, GOOD) as seen:
            second = run(
                CanaryRequest(namespace=kube.namespace, deployment="web", image=GOOD2, replicas=1),
                settings,
                cluster=cluster,
                metrics=metrics,
                reporter=rep,
            )
        out = text(rep)
        assert seen[0] > 0, "the watcher never saw the previous pods: the test saw nothing to wait for"
        canary_reads = [at for q, at in metrics.reads if "web-canary" in q]
        assert canary_reads and min(canary_reads) >= seen[0], (min(canary_reads) - seen[0], out)
        rows = {row.check: row for row in second.rows}
        assert rows["previous pods"].status is Status.PASS, out
        assert GOOD in rows["previous pods"].reason and "gone after" in rows["previous pods"].reason
        assert not _old_pods(kube, GOOD)


def test_previous_pods_that_do_not_go_in_time_are_named_and_pods_of_another_deployment_never_count(
    kube: KubeUnderTest,
) -> None:
    """Owner, not labels: a twin Deployment with the canary's very labels is not the canary's previous version."""
    canary = deployment("web-canary", replicas=1, labels={"track": "canary"}, namespace=kube.namespace)
    canary["spec"]["selector"]["matchLabels"] = {"app": "web", "track": "canary"}
    canary["spec"]["template"]["metadata"]["labels"] = {"app": "web", "track": "canary"}
    twin = _with_grace(deployment("web-twin", replicas=1, namespace=kube.namespace), 60)  # same labels as the canary
    twin["spec"]["selector"]["matchLabels"] = dict(canary["spec"]["selector"]["matchLabels"])
    twin["spec"]["template"]["metadata"]["labels"] = dict(canary["spec"]["template"]["metadata"]["labels"])
    kube.apply([_with_grace(canary, 60), twin])
    kube.wait_rollout(kube.namespace, "web-canary")
    kube.wait_rollout(kube.namespace, "web-twin")
    said: list[str] = []
    with connect(ConnectOptions(kubeconfig=str(kube.kubeconfig_path)), FAST) as cluster:
        assert settle_previous_pods(
            cluster, kube.namespace, "web-canary", lag=5.0, limit=1.0,
            monotonic=time.monotonic, sleep=time.sleep, say=said.append,
        ) is None  # fmt: skip
        canary["spec"]["template"]["spec"]["containers"][0]["image"] = GOOD2
        kube.apply(canary)
        kube.wait_rollout(kube.namespace, "web-canary", timeout=30)
        began = time.monotonic()
        found = settle_previous_pods(
            cluster, kube.namespace, "web-canary", lag=5.0, limit=1.0,
            monotonic=time.monotonic, sleep=time.sleep, say=said.append,
        )  # fmt: skip
        took = time.monotonic() - began
    assert found is not None
    status, reason = found
    assert status is Status.WARN, reason
    assert GOOD in reason and "1 pod(s)" in reason and "still exist" in reason
    assert 1.0 <= took < 4.0  # the limit, and no lag after pods that did not go
    assert any("waiting up to 1s" in line for line in said), said


def test_monitor_judges_a_new_release_only_after_the_old_pods_are_gone(kube: KubeUnderTest) -> None:
    """`hotfix monitor` after a hotfix that replaced a failing release: the old release's pods terminate for GRACE
    seconds and could still serve its errors; the watch reads only after they are gone."""
    from hotfix_actions.report import Outcome
    from hotfix_actions.services.monitor import MonitorRequest
    from hotfix_actions.services.monitor import run as monitor

    kube.apply(_with_grace(deployment(replicas=1, namespace=kube.namespace), GRACE))
    kube.wait_rollout(kube.namespace, "web")
    settings = settings_from_config(short_config(), interval="1s", duration="2s", compare=False)
    with connect(ConnectOptions(kubeconfig=str(kube.kubeconfig_path)), FAST) as cluster:
        cluster.set_images(kube.namespace, "web", {"web": GOOD2}, "the hotfix")
        kube.wait_rollout(kube.namespace, "web", timeout=30)
        rep, metrics = reporter(), Counting()
        with _last_seen(kube, GOOD, "app=web") as seen:
            outcome = monitor(
                MonitorRequest(kube.namespace, "web"), settings, cluster=cluster, metrics=metrics, reporter=rep,
                rollback=lambda why: Outcome("rollback", Verdict.PASS, [why]),
            )  # fmt: skip
    out = text(rep)
    assert seen[0] > 0, "the old pod was never seen Terminating: nothing to wait for"
    reads = [at for q, at in metrics.reads if "http_" in q]  # not the probe before anything (vector(1))
    assert reads and min(reads) >= seen[0], (min(reads) - seen[0], out)
    assert "against the new release" in out
    rows = {row.check: row for row in outcome.rows}
    assert rows["previous pods"].status is Status.PASS and GOOD in rows["previous pods"].reason, out
