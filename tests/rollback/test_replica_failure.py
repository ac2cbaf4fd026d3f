"""Item 5: failures that are not pod reasons end the wait at once with their message: a ResourceQuota on pods
("exceeded quota") and an admission policy denying an image (a ValidatingAdmissionPolicy on the real control plane,
the sandbox's image policy), surfacing as ReplicaFailure conditions and FailedCreate warnings. On both clusters."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.decide.rollout import RolloutPhase
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ExitCode
from hotfix_actions.services import promote
from hotfix_actions.services.rollback import RollbackRequest, run
from tests.clusters import KubeUnderTest, RealCluster, SandboxCluster
from tests.kube.kubefix import GOOD, GOOD2, context
from tests.realk8s.rest import ApiError
from tests.rollback.truth import LOCK, ROLLBACK, live_image, lkg_of, promote_lkg, start, tool

DENIED = "registry.example/web:denied"


@contextmanager
def deny_images(kube: KubeUnderTest, pattern: str) -> Iterator[None]:
    """Images containing ``pattern`` are refused when a pod is created (admission, 403 Forbidden)."""
    if isinstance(kube, SandboxCluster):
        kube.sandbox.settings.deny_images = re.compile(re.escape(pattern))
        yield
        kube.sandbox.settings.deny_images = None
        return
    assert isinstance(kube, RealCluster)
    name = f"deny-{kube.namespace}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                ]
            },
            "validations": [
                {
                    "expression": f"object.spec.containers.all(c, !c.image.contains('{pattern}'))",
                    "message": f"images containing {pattern} are not allowed in this namespace",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": kube.namespace}}},
        },
    }
    kube.apply([policy, binding])
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
             "spec": {"containers": [{"name": "c", "image": f"registry.example/x{pattern}"}]}}  # fmt: skip
    end = time.monotonic() + 30
    while True:  # the policy takes effect once the API server's informer has it: a dry-run create says when
        try:
            kube.rest.request("POST", f"/api/v1/namespaces/{kube.namespace}/pods", probe, query={"dryRun": "All"})
        except ApiError as exc:
            if exc.code in (403, 422):  # a policy without a reason answers 422 Invalid (the sandbox: 403)
                break
        assert time.monotonic() < end, "the admission policy never took effect"
        time.sleep(0.2)
    try:
        yield
    finally:
        kube.delete("admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings", None, name)
        kube.delete("admissionregistration.k8s.io/v1", "validatingadmissionpolicies", None, name)


@contextmanager
def pod_quota(kube: KubeUnderTest, pods: int) -> Iterator[None]:
    kube.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "pods", "namespace": kube.namespace},
                "spec": {"hard": {"pods": str(pods)}}})  # fmt: skip

    def counted() -> bool:
        quota = kube.get("v1", "resourcequotas", kube.namespace, "pods")
        return bool(quota and ((quota.get("status") or {}).get("hard") or {}).get("pods") == str(pods))

    kube.wait_for(counted, timeout=30)
    try:
        yield
    finally:
        kube.delete("v1", "resourcequotas", kube.namespace, "pods")


@pytest.mark.parametrize("failure", ["quota", "admission"])
def test_pods_that_cannot_be_created_end_the_promote_with_the_reason(kube: KubeUnderTest, failure: str) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        guard = pod_quota(kube, 2) if failure == "quota" else deny_images(kube, ":denied")
        image = GOOD2 if failure == "quota" else DENIED
        with guard:
            outcome = promote.run(
                promote.PromoteRequest(
                    namespace=kube.namespace, deployment="web", image=image, run_id="promote-run", fail_fast_after=None
                ),
                PromoteConfig(wait_timeout=120),
                LOCK,
                context(cluster),
            )
    text = "\n".join(outcome.reasons)
    assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.REJECTED, text
    assert outcome.outputs["rollout"] == RolloutPhase.FAILED.value, text  # ended by the reason, not the timeout
    assert "pods cannot be created" in text
    expected = "exceeded quota: pods" if failure == "quota" else "denied request"
    assert expected in text, text
    assert outcome.outputs["rolled-back"] == "true" and live_image(kube) == GOOD
    record = lkg_of(kube)
    assert record is not None and record.image == GOOD


def test_a_rollback_to_a_denied_image_fails_with_the_policy_message(kube: KubeUnderTest) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster, deny_images(kube, ":denied"):
        request = RollbackRequest(
            namespace=kube.namespace, deployment="web", run_id="r", to_image=DENIED, fail_fast_after=None
        )
        outcome = run(request, ROLLBACK, context(cluster))
    text = "\n".join(outcome.reasons)
    assert outcome.verdict is Verdict.FAIL and outcome.outputs["rollout"] == "failed", text
    assert "denied request" in text and "pods cannot be created" in text
