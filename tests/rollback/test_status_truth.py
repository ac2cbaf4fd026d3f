"""Item 7: `hotfix status` tells the truth at a glance, on both clusters: the live revision and the LKG revision
in the numbering `kubectl rollout history` prints (a rollback renumbers the LKG's ReplicaSet), the bad revision and
why, each revision's image and change cause ("unknown" for a revision another tool made, never the inherited cause),
and the lock holder."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import ExitCode
from hotfix_actions.services import promote
from hotfix_actions.services.cluster_status import status
from hotfix_actions.services.rollback import RollbackRequest, run
from hotfix_actions.testing import kubectl
from tests.clusters import KubeUnderTest
from tests.kube.kubefix import GOOD, GOOD2, context
from tests.rollback.truth import LOCK, ROLLBACK, promote_lkg, start, tool

GOOD3 = "registry.example/web:1.3"


def _kubectl_history(kube: KubeUnderTest, tmp_path: Path) -> dict[int, str]:
    """revision -> CHANGE-CAUSE as the pinned kubectl prints them."""
    env = {**os.environ, "KUBECACHEDIR": str(tmp_path / "kubecache"), "HOME": str(tmp_path)}
    out = subprocess.run(
        [str(kubectl.path()), "--kubeconfig", str(kube.kubeconfig_path), "-n", kube.namespace, "rollout", "history",
         "deployment/web"], env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        match = re.match(r"^(\d+)\s+(.*)$", line)
        if match:
            found[int(match.group(1))] = match.group(2).strip()
    return found


def test_status_numbers_revisions_like_kubectl_and_names_the_bad_one(kube: KubeUnderTest, tmp_path: Path) -> None:
    start(kube, GOOD)  # revision 1: applied by hand, no change cause
    with tool(kube) as cluster:
        promote_lkg(kube, cluster, GOOD2)  # revision 2: our promote, the LKG
        cluster.set_images(kube.namespace, "web", {"web": GOOD3})  # revision 3: `kubectl set image`, no cause
        kube.wait_rollout(kube.namespace, "web", timeout=60)
        request = RollbackRequest(namespace=kube.namespace, deployment="web", run_id="run-42", reason="INC-7 errors")
        assert run(request, ROLLBACK, context(cluster)).verdict is Verdict.PASS  # back to the LKG: revision 4
        assert cluster.acquire_lease(kube.namespace, "hotfix-lock-web", "github-run-9-1", 15).acquired
        outcome = status(cluster, kube.namespace, "web", lock_prefix="hotfix-lock-")
    history = _kubectl_history(kube, tmp_path)
    assert sorted(history) == [1, 3, 4], history  # revision 2 became 4: kubectl's numbering
    assert outcome.verdict is Verdict.PASS and outcome.code is ExitCode.OK
    assert outcome.outputs["revision"] == "4" and outcome.outputs["lkg-revision"] == "4"
    rows = {r.check: r for r in outcome.rows}
    assert rows["live revision"].reason == "revision 4"
    assert rows["last-known-good"].reason.startswith(f"revision 4 (recorded as revision 2): web={GOOD2}")
    views = {v["revision"]: v for v in json.loads(outcome.outputs["revisions"])}
    assert set(views) == set(history)
    assert views[4]["live"] and views[4]["lkg"] and not views[4]["bad"]
    assert views[4]["changeCause"].startswith("hotfix rollback (undo) to the last-known-good release by run run-42")
    assert views[3]["images"] == {"web": GOOD3} and not views[3]["live"]
    assert views[3]["changeCause"].startswith("unknown (made by another tool")  # kubectl would show ours
    assert history[3] == f"hotfix promote {GOOD2} by run seed-run"  # ...which is what the ReplicaSet inherited
    assert views[3]["bad"].startswith("rolled back at ") and "by run run-42: INC-7 errors" in views[3]["bad"]
    assert rows["revision 3"].status is Status.WARN and "BAD" in rows["revision 3"].reason
    assert views[1]["changeCause"] == "unknown (no change cause recorded)" and not views[1]["bad"]
    assert re.fullmatch(r"locked by github-run-9-1 since \S+Z, renewed \d+ s ago \(TTL 15 s\)", rows["lock"].reason)
    assert outcome.outputs["lock-holder"] == "github-run-9-1"


def test_status_fails_while_the_live_revision_crashes(kube: KubeUnderTest) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        failed = promote.run(
            promote.PromoteRequest(
                namespace=kube.namespace,
                deployment="web",
                image="registry.example/web:crash",
                run_id="p",
                rollback_on_failure=False,
            ),
            PromoteConfig(wait_timeout=60),
            LOCK,
            context(cluster),
        )
        assert failed.verdict is Verdict.FAIL
        kube.wait_for(lambda: status(cluster, kube.namespace, "web", lock_prefix="hotfix-lock-").verdict is Verdict.FAIL,
                      timeout=30)  # fmt: skip
        outcome = status(cluster, kube.namespace, "web", lock_prefix="hotfix-lock-")
    rows = {r.check: r for r in outcome.rows}
    assert outcome.code is ExitCode.REJECTED and outcome.outputs["healthy"] == "false"
    assert rows["live revision"].status is Status.FAIL
    live = next(r for r in outcome.rows if r.check.startswith("revision ") and "live" in r.reason)
    assert live.status is Status.FAIL and "BAD; bad: its pods crash: " in live.reason
    assert re.search(r"its pods crash: (CrashLoopBackOff|Restarted) \(\d of 2 new pods", live.reason), live.reason
    assert rows["last-known-good"].reason.startswith(f"revision 1: web={GOOD}")
