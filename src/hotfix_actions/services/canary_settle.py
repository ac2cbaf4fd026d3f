"""Before the canary's starting point: the pods of the canary's previous version must be gone.

When ``hotfix canary`` updates a canary Deployment that was running (a second hotfix, a rerun after a rolled-back
canary), the old pods terminate with their grace period. Until they are gone they can still finish requests, and
Prometheus keeps scraping them under the canary's labels. A starting point taken while they exist would count their
later requests (say, the errors of the version just rolled back) against the new canary: a false rollback. So the
gate waits for them to go (their grace period and a margin, at most ``canary.ready_timeout``), then one scrape
interval more, so that their last samples come before the starting point's reads. A canary created now, or one
whose old pods are already gone, starts at once. Pods that do not go in time are named in a WARN row and the
analysis goes on: the error is toward rolling the canary back, never toward promoting it. ``hotfix monitor`` does
the same before it watches a new release: a hotfix that replaced a failing release is not judged by the errors the
old pods still serve while they terminate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotfix_actions.decide.canary import fmt
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import ClusterError
from hotfix_actions.ports import Cluster

__all__ = ["settle_previous_pods"]

MARGIN = 15.0  # seconds past the longest grace period: the kubelet's kill, then the API server's delete
POLL = 0.5
DEFAULT_GRACE = 30.0  # the API server's default terminationGracePeriodSeconds


def _grace(pod: dict[str, Any]) -> float:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    for value in (meta.get("deletionGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")):
        if value is not None:
            return float(value)
    return DEFAULT_GRACE


def _describe(pods: list[dict[str, Any]]) -> str:
    images = sorted({str(c.get("image")) for p in pods for c in (p.get("spec") or {}).get("containers") or ()})
    names = [str((p.get("metadata") or {}).get("name")) for p in pods]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{len(pods)} pod(s) of the previous version ({', '.join(images) or 'no image'}): {shown}"


def settle_previous_pods(
    cluster: Cluster,
    namespace: str,
    deployment: str,
    *,
    lag: float,
    limit: float,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
    say: Callable[[str], None],
    judged: str = "the new canary",
) -> tuple[Status, str] | None:
    """Wait for the previous pods of ``deployment`` to go, then ``lag`` seconds more. None when there were none
    (nothing waited); else the row: PASS when they went, WARN when they did not in time or could not be listed.
    ``judged``: what their requests would be counted against, for the messages."""
    from hotfix_actions.kube.canary_ops import previous_pods

    try:
        pods = previous_pods(cluster, namespace, deployment)
    except ClusterError as exc:
        return Status.WARN, (
            f"could not list {deployment}'s previous pods ({exc.message}); requests they still serve may count "
            f"against {judged}"
        )
    if not pods:
        return None
    began = monotonic()
    bound = min(max(_grace(p) for p in pods) + MARGIN, limit)
    first = _describe(pods)
    say(
        f"{first} still exist: waiting up to {fmt.duration(bound)} for them to go, so that the requests they "
        f"still serve do not count against {judged}"
    )
    while pods and monotonic() - began < bound:
        sleep(POLL)
        try:
            pods = previous_pods(cluster, namespace, deployment)
        except ClusterError as exc:
            say(f"listing {deployment}'s previous pods failed ({exc.message}); trying again")
    waited = fmt.duration(monotonic() - began)
    if pods:
        return Status.WARN, (
            f"{_describe(pods)} still exist after {waited}: requests they serve until they go may count against "
            f"{judged}"
        )
    if lag <= 0:
        return Status.PASS, f"{first} gone after {waited}; the starting point came after them"
    say(f"previous pods gone after {waited}; the starting point comes one scrape interval later")
    sleep(lag)
    return Status.PASS, (
        f"{first} gone after {waited}; the starting point came {fmt.duration(lag)} (one scrape interval) later, "
        "after their last samples"
    )
