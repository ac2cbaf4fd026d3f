"""`hotfix drill`: practise the bad day. Deploy a deliberately failing canary, check that the gate catches it and
rolls it back, then break the primary on purpose and check that the emergency rollback restores the last-known-good.
Reports time to detect and time to restore.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hotfix_actions.decide.lkg import LKG_ANNOTATION
from hotfix_actions.decide.verdict import Status, worst_status
from hotfix_actions.errors import NotFoundError, RejectedError
from hotfix_actions.ports import Cluster
from hotfix_actions.report import Outcome, Reporter, Row, md_table

__all__ = ["DrillRequest", "Runner", "run"]

# Runs one `hotfix` command as a user would: (argv after "hotfix") -> (exit code, JSON result, seconds).
Runner = Callable[[Sequence[str]], tuple[int, dict[str, object], float]]


@dataclass(frozen=True)
class DrillRequest:
    deployment: str
    namespace: str
    bad_image: str
    container: str | None = None
    interval: str = "2s"
    duration: str = "2m"
    restore: bool = True


def _images(obj: dict[str, object]) -> dict[str, str]:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {} if isinstance(spec, dict) else {}
    pod = template.get("spec") or {} if isinstance(template, dict) else {}
    containers = pod.get("containers") or [] if isinstance(pod, dict) else []
    return {str(c.get("name")): str(c.get("image")) for c in containers if isinstance(c, dict)}


def run(req: DrillRequest, cluster: Cluster, hotfix: Runner, reporter: Reporter) -> Outcome:
    rows: list[Row] = []

    def add(check: str, status: Status, reason: str) -> None:
        rows.append(Row(check, status, reason))
        reporter.step(f"{check}: {status.value} - {reason}")

    try:
        primary = cluster.get("deployments", req.namespace, req.deployment)
    except NotFoundError as exc:
        raise NotFoundError(
            f"deployment {req.namespace}/{req.deployment} not found", fix="check --deployment and --namespace"
        ) from exc
    annotations = (primary.get("metadata") or {}).get("annotations") or {}
    if LKG_ANNOTATION not in annotations:
        raise RejectedError(
            f"deployment {req.deployment} has no last-known-good record, so a restore could not be checked",
            fix=f"record the release that runs now first: hotfix promote -d {req.deployment} --image <live image>",
        )
    good = _images(primary)
    add("before", Status.PASS, "primary runs " + ", ".join(f"{k}={v}" for k, v in good.items()))

    code, doc, detect = hotfix(
        [
            "canary",
            "-d",
            req.deployment,
            "--image",
            req.bad_image,
            "--interval",
            req.interval,
            "--duration",
            req.duration,
            *(["--container", req.container] if req.container else []),
        ]
    )
    reasons = [str(r) for r in list(doc.get("reasons") or [])]  # type: ignore[call-overload]
    if code == 1:
        add("detect", Status.PASS, f"the gate failed {req.bad_image} in {detect:.1f}s: {reasons[0] if reasons else ''}")
    elif code == 0:
        add(
            "detect",
            Status.FAIL,
            f"the gate PASSED a deliberately failing canary ({req.bad_image}): tighten the "
            "thresholds in .hotfix.yml canary",
        )
    else:
        add("detect", Status.ERROR, f"the gate could not evaluate (exit {code}): {'; '.join(reasons)[:300]}")

    canary_name = f"{req.deployment}-canary"
    try:
        canary = cluster.get("deployments", req.namespace, canary_name)
        replicas = int((canary.get("spec") or {}).get("replicas") or 0)
        serving_bad = replicas > 0 and req.bad_image in _images(canary).values()
        add(
            "canary rolled back",
            Status.FAIL if serving_bad else Status.PASS,
            f"{canary_name}: {replicas} replica(s), " + ", ".join(_images(canary).values()),
        )
    except NotFoundError:
        add("canary rolled back", Status.PASS, f"{canary_name} is gone")

    restore = 0.0
    if req.restore:
        container = req.container or next(iter(good))
        cluster.set_images(
            req.namespace,
            req.deployment,
            {container: req.bad_image},
            change_cause=f"hotfix drill: deliberately bad image {req.bad_image}",
        )
        add("break", Status.PASS, f"set {container}={req.bad_image} on the primary, as a bad deploy would")
        started = time.monotonic()
        code, doc, _ = hotfix(
            [
                "rollback",
                "-d",
                req.deployment,
                "--strategy",
                "undo",
                "--reason",
                "hotfix drill: rehearse the emergency rollback",
            ]
        )
        restore = time.monotonic() - started
        now = _images(cluster.get("deployments", req.namespace, req.deployment))
        if code == 0 and now == good:
            add("restore", Status.PASS, f"back to the last-known-good in {restore:.1f}s ({', '.join(now.values())})")
        else:
            add(
                "restore",
                Status.FAIL,
                f"rollback exit {code}; primary runs {', '.join(now.values())}, expected {', '.join(good.values())}",
            )
    verdict = worst_status(r.status for r in rows)
    outputs = {"time-to-detect": f"{detect:.2f}", "time-to-restore": f"{restore:.2f}" if req.restore else ""}
    markdown = md_table(
        ["measure", "seconds"],
        [["time to detect", f"{detect:.1f}"], ["time to restore", f"{restore:.1f}" if req.restore else "-"]],
    )
    summary = f"time to detect {detect:.1f}s" + (f", time to restore {restore:.1f}s" if req.restore else "")
    return Outcome(
        command="drill",
        verdict=verdict,
        reasons=[summary],
        outputs=outputs,
        rows=rows,
        title="rollback drill",
        markdown=markdown,
    )
