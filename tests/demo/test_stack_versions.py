"""The local stack plays one sample app per track; a new version of a track is a new container, as on a cluster, so
its counters start from zero. Without that, the last requests of the previous version (a bad canary's errors that
Prometheus had not scraped yet) were reported as the next version's: the demo's good canary could start with a
bad canary's errors in its first interval and be rolled back for them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hotfix_actions.sandbox.sample_app import SampleApp
from hotfix_actions.sandbox.stack import LocalStack, StackSettings, deployment_manifest
from tests.clusters import KubeUnderTest

BAD = "ghcr.io/acme/shop:1.4.3-rc1"  # 15% errors in the stack's behaviours
GOOD = "ghcr.io/acme/shop:1.4.3"


def _served(app: SampleApp) -> dict[str, float]:
    """The app's own counters by status code, as its /metrics reports them."""
    counts: dict[str, float] = {}
    for family in app.registry.collect():
        for sample in family.samples:
            if sample.name == "http_requests_total":
                counts[sample.labels["code"]] = counts.get(sample.labels["code"], 0.0) + sample.value
    return counts


def test_a_new_version_of_a_track_reports_only_its_own_requests(kube: KubeUnderTest, tmp_path: Path) -> None:
    """On both clusters: the bridge follows what the cluster reports (the canary's image and its Ready pods)."""
    settings = StackSettings(namespace=kube.namespace, prometheus=False, replicas=1)
    with LocalStack.start(tmp_path / "stack", settings, cluster=kube) as stack:
        canary = stack.apps["canary"]

        def deploy(image: str, replicas: int = 1) -> None:
            manifest = deployment_manifest(replace(settings, image=image), name=stack.canary_name, track="canary")
            manifest["spec"]["replicas"] = replicas
            kube.apply(manifest)

        deploy(BAD)
        kube.wait_for(lambda: _served(canary).get("500", 0) >= 3, timeout=20)  # the bad version has failed requests
        deploy(GOOD)
        kube.wait_for(lambda: canary.knobs.error_rate < 0.01, timeout=20)  # the bridge switched to the good version
        assert _served(canary).get("500", 0) <= 2  # not the bad version's failures (the good one fails 0.1%)
        kube.wait_for(lambda: _served(canary).get("200", 0) >= 20, timeout=20)
        good = _served(canary)

        deploy(GOOD, replicas=0)  # rolled back: no pod, no traffic
        kube.wait_for(lambda: canary.knobs.load_rps == 0, timeout=20)
        deploy(GOOD)  # the same version again: new pods, counters from zero again
        kube.wait_for(lambda: canary.knobs.load_rps > 0, timeout=20)
        assert _served(canary).get("200", 0) < good["200"]
