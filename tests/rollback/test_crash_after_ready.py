"""Item 4 (and issue 10 item 7): a release whose pods turn Ready and then crash is never recorded as the
last-known-good. With the default settings the promote watches the new pods during the rollout and a settle window
after it; the first restart fails the promote, names the crash and rolls back to the last-known-good. On both
clusters, whatever the delay between Ready and the crash (Hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ExitCode
from hotfix_actions.services import promote
from tests.clusters import KubeUnderTest
from tests.kube.kubefix import GOOD, context, deployment
from tests.rollback.truth import CRASH_REASONS, LOCK, live_image, lkg_of, promote_lkg, tool

CRASH = "registry.example/web:crash"


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(crash_after=st.floats(min_value=0.3, max_value=6.0))
def test_a_release_that_crashes_after_ready_is_never_the_lkg(kube: KubeUnderTest, crash_after: float) -> None:
    manifest = deployment(image=GOOD, namespace=kube.namespace)
    manifest["spec"]["template"]["metadata"]["annotations"] = {
        "hotfix.test/crash-after": f"{int(crash_after * 1000)}ms"
    }
    kube.apply(manifest)
    kube.wait_rollout(kube.namespace, "web", timeout=60)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        outcome = promote.run(
            promote.PromoteRequest(namespace=kube.namespace, deployment="web", image=CRASH, run_id="promote-run"),
            PromoteConfig(),  # the defaults: a settle window watches the new pods after the rollout
            LOCK,
            context(cluster),
        )
    text = "\n".join(outcome.reasons)
    assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.REJECTED, text
    assert outcome.outputs["blocking-reason"] in CRASH_REASONS, text
    assert "new pods crash" in text and "restarted" in text
    assert outcome.outputs["rolled-back"] == "true"
    assert any(r.check == "rollback rollout" and r.reason.startswith("rolled back: ") for r in outcome.rows)
    record = lkg_of(kube)
    assert record is not None and record.image == GOOD and record.source in ("promote", "rollback")
    assert live_image(kube) == GOOD and kube.rollout_complete(kube.namespace, "web")


def test_the_rollback_after_a_crash_marks_the_release_bad(kube: KubeUnderTest) -> None:
    """The record the failed promote leaves says which release was bad and why (hotfix status shows it)."""
    kube.apply(deployment(image=GOOD, namespace=kube.namespace))
    kube.wait_rollout(kube.namespace, "web", timeout=60)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        outcome = promote.run(
            promote.PromoteRequest(namespace=kube.namespace, deployment="web", image=CRASH, run_id="promote-run"),
            PromoteConfig(settle_seconds=5),
            LOCK,
            context(cluster),
        )
    assert outcome.verdict is Verdict.FAIL
    record = lkg_of(kube)
    assert record is not None and record.source == "rollback" and record.image == GOOD
    assert record.replaced == f"web={CRASH}" and record.replaced_digest
    assert f"promote of {CRASH} failed" in record.why and "restarted" in record.why
