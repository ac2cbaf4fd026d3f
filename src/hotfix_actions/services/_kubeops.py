"""What rollback, promote and status share: the Lease lock, snapshots, health checks, reading a Deployment."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hotfix_actions.config.rollback import HealthCheck
from hotfix_actions.decide.lkg import LkgRecord, history
from hotfix_actions.decide.names import dns1123_label_problem, dns1123_subdomain_problem, image_problem
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import ClusterError, HotfixError, LockHeldError, NotFoundError, UsageError
from hotfix_actions.ports import Cluster, Deployments, Event, KubeObject, LeaseState, Notifier, Probe
from hotfix_actions.report import Outcome, Reporter, Row

__all__ = [
    "LeaseHold",
    "check_image",
    "check_label_value",
    "check_names",
    "deploy_finish",
    "deploy_start",
    "lease_lock",
    "lease_name",
    "notify",
    "one_line",
    "read_deployment",
    "run_health_checks",
    "snapshot_objects",
    "with_lease_warning",
    "write_snapshot",
]

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when PyYAML has it


def check_names(namespace: str, **names: str | None) -> None:
    """Every name is checked against DNS-1123 before any API call."""
    if problem := dns1123_label_problem(namespace):
        raise UsageError(f"{namespace!r} {problem}", input_name="namespace", fix="pass a valid namespace name")
    for option, value in names.items():
        if value is None:
            continue
        if problem := dns1123_subdomain_problem(value):
            raise UsageError(
                f"{value!r} {problem}", input_name=option.replace("_", "-"), fix="pass a valid Kubernetes name"
            )


def check_image(image: str, option: str = "to-image") -> None:
    if problem := image_problem(image):
        raise UsageError(
            f"{image!r} {problem}", input_name=option, fix="pass registry/name:tag or name@sha256:<64 hex>"
        )


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def check_label_value(value: str, option: str) -> None:
    """A Kubernetes label value (blue-green colors): at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends."""
    if not value or len(value) > 63 or not _LABEL_VALUE.match(value):
        raise UsageError(f"{value[:80]!r} is not a label value", input_name=option, fix="use e.g. blue or green")


def one_line(text: str, limit: int = 500) -> str:
    """Free text from a person (a reason, a change cause) made safe to log: one line, no control characters, so it
    can never start a workflow command (``::...``) on a line of its own."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())[:limit]


def lease_name(prefix: str, deployment: str) -> str:
    name = f"{prefix}{deployment}"
    return name[:253].rstrip("-.")


def read_deployment(cluster: Cluster, namespace: str, name: str) -> KubeObject:
    """The Deployment, or a NotFoundError that says whether the namespace or the Deployment is missing."""
    try:
        return cluster.get("deployments", namespace, name)
    except NotFoundError as exc:
        try:
            exists = cluster.namespace_exists(namespace)
        except NotFoundError:
            raise
        except ClusterError:  # a least-privilege Role cannot read namespaces: say what it can see
            exists = True
        if not exists:
            raise NotFoundError(
                f'namespace "{namespace}" does not exist', fix="pass --namespace with an existing namespace"
            ) from exc
        names = sorted(
            (d.get("metadata") or {}).get("name", "?") for d in cluster.list_objects("deployments", namespace)
        )
        raise NotFoundError(
            f'deployment "{name}" not found in namespace "{namespace}" '
            f"(deployments there: {', '.join(names[:20]) or 'none'})",
            fix="pass --deployment with one of those names",
        ) from exc


@dataclass
class LeaseHold:
    """The Lease while we hold it; ``lost`` says to whom and when, if a renewal found it taken."""

    state: LeaseState
    lost: str = ""
    renewals: int = 0


@contextmanager
def lease_lock(
    cluster: Cluster,
    namespace: str,
    name: str,
    holder: str,
    *,
    ttl_seconds: int,
    timeout: float,
    say: Callable[[str], None],
    warn: Callable[[str], None],
    what: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LeaseHold]:
    """Hold the Lease for the block, like client-go's leader election: wait up to ``timeout`` for another holder
    (polling every second), renew every third of the TTL from a thread, release at the end (also when the block
    is left by an exception or a signal). A crashed holder stops renewing, so its lease frees a TTL later."""
    start = clock()
    try:
        state = cluster.acquire_lease(namespace, name, holder, ttl_seconds)
    except NotFoundError as exc:  # the Lease cannot be created: the namespace is missing
        if not cluster.namespace_exists(namespace):
            raise NotFoundError(
                f'namespace "{namespace}" does not exist', fix="pass --namespace with an existing namespace"
            ) from exc
        raise
    announced = False
    while not state.acquired:
        waited = clock() - start
        if waited >= timeout:
            subject = what or f'lease "{name}"'
            raise LockHeldError(
                f"{subject} is {state.describe()}: lease {name} in namespace {namespace}; waited {waited:.0f}s "
                f"(lock timeout {timeout:.0f}s)",
                fix="wait for that run to finish, or raise --lock-timeout; a run that died stops renewing and its "
                f"lease frees {state.duration_seconds or ttl_seconds} s after its last renewal",
            )
        if not announced:
            say(f"lock: {state.describe()}; {state.reason}; waiting up to {timeout:.0f}s")
            announced = True
        sleep(min(1.0, max(0.05, timeout - waited)))
        state = cluster.acquire_lease(namespace, name, holder, ttl_seconds)
    hold = LeaseHold(state)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl_seconds / 3):
            try:
                renewed = cluster.acquire_lease(namespace, name, holder, ttl_seconds)
            except HotfixError as exc:
                warn(f"lock: could not renew lease {name}: {exc}")
                continue
            if not renewed.acquired:
                hold.lost = f"lost lease {name} to {renewed.holder or '?'} (renewal failed: {renewed.reason})"
                warn(f"lock: {hold.lost}")
                return
            hold.renewals += 1

    thread = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    thread.start()
    try:
        yield hold
    finally:
        stop.set()
        thread.join(timeout=5)
        if not hold.lost:
            try:
                cluster.release_lease(namespace, name, holder)
            except HotfixError as exc:
                warn(f"lock: could not release lease {name} (it frees {ttl_seconds}s after its last renewal): {exc}")


def with_lease_warning(ctx: Any, hold: LeaseHold, outcome: Outcome) -> Outcome:
    """The outcome, plus a WARN row (and reason) when a renewal found the Lease taken by another run meanwhile."""
    if not hold.lost:
        return outcome
    row = Row("lock", Status.WARN, hold.lost)
    ctx.rows.append(row)
    ctx.reporter.step(f"lock: {Status.WARN.value} - {hold.lost}")
    return dataclasses.replace(outcome, rows=[*outcome.rows, row], reasons=[*outcome.reasons, row.text])


def _clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(obj)
    meta = dict(result.get("metadata") or {})
    meta.pop("managedFields", None)
    result["metadata"] = meta
    return result


def snapshot_objects(
    cluster: Cluster, namespace: str, deployment: KubeObject, *, pods: bool = False
) -> list[dict[str, Any]]:
    """The Deployment, its ReplicaSets, the Services selecting its pods (and optionally the pods), API JSON."""
    template_labels = (((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    items: list[dict[str, Any]] = [_clean({"apiVersion": "apps/v1", "kind": "Deployment", **deployment})]
    items += [_clean(rs) for rs in cluster.owned_replicasets(deployment)]
    for svc in cluster.list_objects("services", namespace):
        selector = (svc.get("spec") or {}).get("selector") or {}
        if selector and all(template_labels.get(k) == v for k, v in selector.items()):
            items.append(_clean(svc))
    if pods:
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        items += [_clean(p) for p in cluster.list_objects("pods", namespace, labels=labels)]
    return items


def lkg_records(deployment: Mapping[str, Any]) -> dict[str, Any]:
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    try:
        current = LkgRecord.from_annotations(annotations)
    except ValueError as exc:
        return {"error": str(exc)}
    return {
        "current": _record(current) if current else None,
        "history": [_record(r) for r in history(annotations)],
    }


def _record(record: LkgRecord) -> dict[str, Any]:
    return {
        "images": dict(record.images),
        "podTemplateHash": record.template_hash,
        "revision": record.revision,
        "time": record.time,
        "runUrl": record.run_url,
        "runId": record.run_id,
    }


def write_snapshot(
    directory: str,
    namespace: str,
    name: str,
    items: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any],
    now: datetime,
) -> str:
    """One YAML file like ``kubectl get -o yaml`` (a List), plus the LKG records; returns its path."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{namespace}-{name}-{now.strftime('%Y%m%dT%H%M%S%fZ')}.yaml"
        document = {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"hotfix-actions": dict(extra)},
            "items": list(items),
        }
        path.write_text(yaml.dump(document, Dumper=_DUMPER, sort_keys=False), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the snapshot into {directory}: {exc}", input_name="snapshot-dir") from exc
    return str(path)


def run_health_checks(
    probe: Probe, checks: Sequence[HealthCheck], say: Callable[[str], None], label: str = "health"
) -> list[Row]:
    rows = []
    for check in checks:
        result = probe.check(
            check.url,
            expected_status=check.expected_status,
            retries=check.retries,
            interval=check.interval,
            timeout=check.timeout,
        )
        status = Status.PASS if result.ok else Status.FAIL
        rows.append(Row(f"{label}: {check.url}", status, result.detail))
        say(f"{label} {check.url}: {status.value} - {result.detail}")
    return rows


def notify(notifier: Notifier, event: Event, reporter: Reporter) -> None:
    """One notification per event; a failure is a warning and never changes the result."""
    try:
        warning = notifier.notify(event)
    except Exception as exc:  # a notifier must never break a rollback
        warning = f"{type(exc).__name__}: {exc}"
    if warning:
        reporter.annotate("warning", f"notification not delivered: {warning}")


def deploy_start(
    deployments: Deployments, reporter: Reporter, environment: str, ref: str, payload: dict[str, str], description: str
) -> int | None:
    """Record a GitHub Deployment; a failure is a warning, never a reason to stop a rollback."""
    if not environment or not ref:
        return None
    try:
        return deployments.start(environment, ref, payload, description)
    except HotfixError as exc:
        reporter.annotate("warning", f"GitHub deployment not recorded: {exc}")
        return None


def deploy_finish(
    deployments: Deployments, reporter: Reporter, deployment_id: int | None, state: str, description: str, url: str
) -> None:
    try:
        deployments.finish(deployment_id, state, description, url)
    except HotfixError as exc:
        reporter.annotate("warning", f"GitHub deployment {deployment_id} not set {state}: {exc}")
