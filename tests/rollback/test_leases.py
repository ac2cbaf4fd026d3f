"""Item 3: Leases like leader election, on both clusters, through real `hotfix` processes with the default lock
settings: a crashed holder (SIGKILL) frees the lock within its short TTL, a held lock is reported as "locked by
<holder> since <time>, renewed <n> s ago" with exit 4 (not "cluster unreachable"), and a Deployment that does not
exist gets no Lease."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from hotfix_actions.config.rollback import LockConfig
from tests.clusters import KubeUnderTest
from tests.kube.kubefix import GOOD, GOOD2
from tests.rollback.truth import edit_template, hotfix_env, live_image, run_hotfix, slow, spawned, start, tool

GOOD3 = "registry.example/web:1.3"
CONFIG = "version: 1\ncluster: {poll_interval: 0.1}\n"  # the lock settings are the defaults


def _holder(kube: KubeUnderTest, name: str = "hotfix-lock-web") -> str:
    lease = kube.get("coordination.k8s.io/v1", "leases", kube.namespace, name)
    return "" if lease is None else str((lease.get("spec") or {}).get("holderIdentity") or "")


def test_the_default_lock_timeout_outlasts_the_ttl() -> None:
    lock = LockConfig()
    assert lock.ttl_seconds <= 15 < lock.timeout_seconds


def test_a_killed_holder_frees_the_lock_in_seconds(kube: KubeUnderTest, tmp_path: Path) -> None:
    start(kube, GOOD)
    # the live template's pods take 20 s: the first run still holds the lock, waiting, when it is killed (with 4 s
    # a quick machine let it finish and release the lock first)
    with tool(kube) as cluster:
        edit_template(kube, cluster, annotations=slow(20), image=GOOD2)
    env = hotfix_env(kube, tmp_path, CONFIG)
    with spawned(
        ["rollback", "-d", "web", "--to-image", GOOD3, "--fail-fast-after", "300", "--timeout", "300"], env
    ) as first:
        kube.wait_for(lambda: (live_image(kube) == GOOD3 and _holder(kube)) or first.poll() is not None, timeout=30)
        assert first.poll() is None, first.communicate()
        holder = _holder(kube)
        assert holder.endswith(f":{first.pid}")
        time.sleep(6)  # past one renewal (every TTL/3 = 5 s)
        blocked = run_hotfix(["rollback", "-d", "web", "--to-image", GOOD, "--lock-timeout", "1"], env)
        said = blocked.stdout + blocked.stderr
        assert blocked.returncode == 4, said
        found = re.search(rf"locked by {re.escape(holder)} since (\S+), renewed (\d+) s ago", said)
        assert found is not None, said
        assert int(found.group(2)) <= 5, "the holder renews while it runs"
        assert "cluster unreachable" not in said and live_image(kube) == GOOD3
        assert first.poll() is None, "the first run must still hold the lock when it is killed"
        first.kill()  # SIGKILL: no cleanup at all, the lease stays held until its TTL runs out
        first.communicate()
        killed = time.monotonic()
        third = run_hotfix(["rollback", "-d", "web", "--to-image", GOOD, "--no-wait"], env)
        took = time.monotonic() - killed
    said = third.stdout + third.stderr
    assert third.returncode == 0, said
    assert took < 15 + 6, f"{took:.1f}s after the holder died"  # the lease's TTL + start-up (no rollout wait)
    # the dead holder is named with why its lease was taken: waited for ("locked by", then expired or not renewed),
    # or already expired at the first look when the kill came late in a renewal period on a busy machine
    assert holder in said and ("not renewed for" in said or "expired" in said), said
    assert live_image(kube) == GOOD and _holder(kube) == ""


@pytest.mark.parametrize("command", [["rollback", "--to-image", GOOD2], ["promote", "--image", GOOD2]])
def test_no_lease_for_a_deployment_that_does_not_exist(kube: KubeUnderTest, tmp_path: Path, command: list[str]) -> None:
    start(kube, GOOD)
    result = run_hotfix([command[0], "-d", "wbe", *command[1:]], hotfix_env(kube, tmp_path, CONFIG))
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert f'deployment "wbe" not found in namespace "{kube.namespace}" (deployments there: web)' in said
    assert kube.get("coordination.k8s.io/v1", "leases", kube.namespace, "hotfix-lock-wbe") is None
    assert live_image(kube) == GOOD


def test_a_run_whose_lease_is_taken_says_so(kube: KubeUnderTest) -> None:
    """Leader election's other half: a holder that finds its lease taken at a renewal reports it (a WARN row)
    instead of carrying on as if it still held the lock."""
    import threading

    from hotfix_actions.config.rollback import RollbackConfig
    from hotfix_actions.decide.verdict import Status
    from hotfix_actions.services.rollback import RollbackRequest, run
    from tests.kube.kubefix import context

    start(kube, GOOD)
    with tool(kube) as cluster:
        edit_template(kube, cluster, annotations=slow(4))

        def steal() -> None:
            kube.wait_for(lambda: _holder(kube) == "run-1", timeout=30)
            lease = cluster.get("leases", kube.namespace, "hotfix-lock-web")
            lease["spec"]["holderIdentity"] = "github-run-99-1"  # someone who believes it expired
            cluster.replace("leases", kube.namespace, lease)

        thief = threading.Thread(target=steal, daemon=True)
        thief.start()
        cfg = RollbackConfig(wait_timeout=60, lock=LockConfig(ttl_seconds=3, timeout_seconds=5))
        request = RollbackRequest(namespace=kube.namespace, deployment="web", run_id="run-1", to_image=GOOD2,
                                  fail_fast_after=None)  # fmt: skip
        outcome = run(request, cfg, context(cluster))
        thief.join(timeout=30)
    lost = [r for r in outcome.rows if r.check == "lock" and r.status is Status.WARN]
    assert lost and "lost lease hotfix-lock-web to github-run-99-1" in lost[0].reason, outcome.rows
    assert _holder(kube) == "github-run-99-1"  # not released: it is not ours
