"""The local simulated Kubernetes cluster: an API server the real kubectl accepts, with Deployment, ReplicaSet and
pod controllers, fault knobs and snapshots. Standard library HTTP; nothing here imports the kubernetes SDK.

    from hotfix_actions.sandbox import Sandbox
    with Sandbox.start(ready_delay=0.3, crash_images=r"(:bad|:crash)") as sb:
        sb.apply(deployment_yaml)
        subprocess.run(["kubectl", "--kubeconfig", str(sb.kubeconfig_path), "get", "pods"])
"""

from __future__ import annotations

from hotfix_actions.sandbox.cluster import Sandbox, load_manifests, write_kubeconfig
from hotfix_actions.sandbox.faults import Faults
from hotfix_actions.sandbox.settings import Settings

__all__ = ["Faults", "Sandbox", "Settings", "load_manifests", "write_kubeconfig"]
