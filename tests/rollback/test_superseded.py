"""Item 1: the wait follows what we wrote. Another writer changes the Deployment right after our rollback or promote
wrote it: the verdict is never PASS while another template rolls out (SUPERSEDED, exit 5, naming the new image and
the writer's change cause, "unknown" when it set none); the same template written again is said and passes.
On both clusters (the sandbox and the real control plane)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ExitCode
from hotfix_actions.services import promote
from hotfix_actions.services.rollback import RollbackRequest, run
from tests.clusters import KubeUnderTest
from tests.kube.kubefix import GOOD, GOOD2, context, printed
from tests.rollback.truth import LOCK, ROLLBACK, after, live_image, lkg_of, promote_lkg, slow, start, tool

RACER = "registry.example/web:3.0"


def _rollback(kube: KubeUnderTest, **kwargs: Any) -> RollbackRequest:
    return RollbackRequest(namespace=kube.namespace, deployment="web", run_id="rollback-run", **kwargs)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    racer=st.sampled_from(["other image, a cause", "other image, no cause", "same template"]),
    delay=st.floats(min_value=0.0, max_value=0.8),
)
def test_a_writer_after_our_rollback_is_never_a_pass(kube: KubeUnderTest, racer: str, delay: float) -> None:
    with tool(kube) as cluster, tool(kube) as other:
        if kube.get("apps/v1", "deployments", kube.namespace, "web") is None:
            start(kube, GOOD, pod_annotations=slow(2.0))  # our target's pods take 2 s: the racer lands first
            promote_lkg(kube, cluster)
        cluster.set_images(kube.namespace, "web", {"web": GOOD2}, "a bad release")  # the release to roll back
        kube.wait_rollout(kube.namespace, "web", timeout=60)
        image = GOOD if racer == "same template" else RACER
        cause = "" if racer == "other image, no cause" else "pipeline deploy 3.0"

        def race() -> None:
            import time

            time.sleep(delay)
            other.set_images(kube.namespace, "web", {"web": image}, cause)

        racing = after(lambda: live_image(kube) == GOOD, race)
        ctx = context(cluster)
        outcome = run(_rollback(kube, strategy="undo", fail_fast_after=None), ROLLBACK, ctx)
        racing.join(timeout=30)
        text = "\n".join(outcome.reasons)
        assert outcome.outputs["changed"] == "true"  # our write is reported, never hidden
        if racer == "same template":
            assert outcome.verdict is Verdict.PASS, text
            assert live_image(kube) == GOOD
            if "still carries our template" not in printed(ctx.reporter):  # the racer may land after we finished
                assert all(r.check != "tracking" for r in outcome.rows)
        else:
            assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.SUPERSEDED, text
            assert outcome.outputs["result"] == "superseded" and outcome.outputs["rollout"] == "superseded"
            assert f"web={RACER}" in text and "not web=" + GOOD in text
            if cause:
                assert "change cause: pipeline deploy 3.0" in text
            else:
                assert "change cause: unknown (made by another tool" in text
            assert live_image(kube) == RACER


def test_another_writer_during_a_promote_gets_no_lkg_and_no_rollback(kube: KubeUnderTest) -> None:
    with tool(kube) as cluster, tool(kube) as other:
        start(kube, GOOD)
        promote_lkg(kube, cluster)
        dep = kube.get("apps/v1", "deployments", kube.namespace, "web")
        assert dep is not None
        racing = after(
            lambda: live_image(kube) == GOOD2,
            lambda: other.set_images(kube.namespace, "web", {"web": RACER}, "kubectl set image by hand"),
        )
        slow_pods = PromoteConfig(wait_timeout=60, settle_seconds=3)  # the racer lands within the settle window
        outcome = promote.run(
            promote.PromoteRequest(namespace=kube.namespace, deployment="web", image=GOOD2, run_id="promote-run"),
            slow_pods,
            LOCK,
            context(cluster),
        )
        racing.join(timeout=30)
        assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.SUPERSEDED, outcome.reasons
        assert outcome.outputs["rolled-back"] == "false" and outcome.outputs["result"] == "superseded"
        assert any(f"web={RACER}" in r and "kubectl set image by hand" in r for r in outcome.reasons)
        record = lkg_of(kube)
        assert record is not None and record.image == GOOD  # neither our image nor theirs became the LKG
        assert live_image(kube) == RACER  # their deploy was not undone


@pytest.mark.parametrize("strategy", ["undo", "redeploy"])
def test_without_a_racer_the_rollback_passes_and_says_what_it_followed(kube: KubeUnderTest, strategy: str) -> None:
    """The control: the same run without another writer passes, following the generation it wrote."""
    with tool(kube) as cluster:
        start(kube, GOOD)
        promote_lkg(kube, cluster)
        cluster.set_images(kube.namespace, "web", {"web": GOOD2}, "a bad release")
        kube.wait_rollout(kube.namespace, "web", timeout=60)
        outcome = run(_rollback(kube, strategy=strategy), ROLLBACK, context(cluster))
        assert outcome.verdict is Verdict.PASS, outcome.reasons
        write = next(r.reason for r in outcome.rows if r.check == "write")
        assert "generation" in write and live_image(kube) == GOOD
