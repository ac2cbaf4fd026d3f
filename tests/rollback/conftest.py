from tests.kube.kubefix import cluster, http_app, sandbox

__all__ = ["cluster", "http_app", "sandbox"]
