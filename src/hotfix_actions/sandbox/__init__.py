"""The local simulated Kubernetes cluster: an API server (reporting v1.37) that current kubectl (1.36, 1.37, watch-list
streaming included) and the ``kubernetes`` Python client accept, with Deployment, ReplicaSet, pod and namespace
controllers, fault knobs and snapshots. Standard-library HTTP on 127.0.0.1; nothing here imports the kubernetes SDK.

    from hotfix_actions.sandbox import Sandbox
    with Sandbox.start(ready_delay=0.3, crash_images=r"(:bad|:crash)", tick=0.05) as sb:   # port 0: a free port
        sb.url, sb.kubeconfig_path            # plain http, context "sandbox", namespace "default"
        sb.apply(obj_or_yaml_text)            # create-or-update (dict, list of dicts, multi-doc YAML)
        sb.get("apps/v1", "deployments", "default", "web")          # dict or None
        sb.list("v1", "pods", "default", label_selector="app=web")  # list of dicts
        sb.wait_rollout("default", "web", timeout=10)               # kubectl's "successfully rolled out" rule
        sb.faults.fail_next(3, status=503, methods=None, path=None) # next N API requests fail
        sb.faults.fail_for(2.0, status=503)                         # an outage for 2 s
        sb.faults.delay(0.5, n=None)                                # delay every (or the next n) answers
        sb.faults.drop_watches(refuse=False)                        # cut open watch streams
        sb.faults.conflict_next_write(1)                            # next write answers 409 Conflict
        sb.faults.clear()
        sb.settings.ready_delay = 2.0                               # knobs may change while it runs

``Sandbox.start(ready_delay=0.3, crash_images=None, tick=0.05, snapshot=None, port=0, kubeconfig_path=None,
progress_deadline_default=600, pull_fail_images=None, crash_period=1.0, crash_after=1.0, terminate_delay=0.3,
deny_images=None)``: images matching ``crash_images`` are Ready, crash after ``crash_after`` s and restart after
``crash_period`` s (CrashLoopBackOff, restartCount climbing); ``pull_fail_images`` stay Pending with ImagePullBackOff;
``deny_images`` are refused at admission (a ReplicaFailure); a ResourceQuota on ``pods`` is enforced; deleted pods
stay Terminating for ``terminate_delay`` s; a pod template with a
``nodeSelector`` the single node ``sandbox-node`` does not satisfy stays Pending/Unschedulable. ``snapshot`` is a JSON
file loaded at start and saved on ``stop()`` and on ``POST /_sandbox/snapshot``.

Over HTTP (for other processes, e.g. workflows run by act): ``GET /_sandbox/healthz``; ``GET|POST /_sandbox/faults``
(``{"fail_next": 3, "status": 503, "methods": [...], "path": "/deployments", "fail_for": 2, "delay": 0.5,
"delay_count": 1, "drop_watches": true, "refuse_watches": false, "conflict_next_write": 1, "clear": true}``);
``GET|POST /_sandbox/settings``; ``POST /_sandbox/apply`` (``{"objects": [...]}``); ``GET|POST /_sandbox/snapshot``;
``GET|DELETE /_sandbox/unserved`` (requests it did not fully serve: unknown query parameters or paths, refused methods,
bodies or Accept headers; ``sb.unserved()`` in process; tests fail on them).

``hotfix sandbox up|down|status`` runs it as a background process (``python -m hotfix_actions.sandbox``).
"""

from __future__ import annotations

from hotfix_actions.sandbox.cluster import Sandbox, load_manifests, write_kubeconfig
from hotfix_actions.sandbox.faults import Faults
from hotfix_actions.sandbox.settings import Settings

__all__ = ["Faults", "Sandbox", "Settings", "load_manifests", "write_kubeconfig"]
