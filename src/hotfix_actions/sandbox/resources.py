"""The resource types the sandbox serves: names, scope, verbs, short names and categories (discovery order)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESOURCES", "VERBS", "Resource", "by_kind", "by_plural", "groups", "resource"]

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale"
    has_generation: bool = False  # spec changes raise metadata.generation
    status_subresource: bool = False  # the main endpoint ignores status; /status writes only status

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def rid(self) -> str:
        """The store key of this type: ``group/plural``."""
        return f"{self.group}/{self.plural}"

    @property
    def qualified(self) -> str:
        """How errors name the type: ``deployments.apps`` or ``pods``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_qualified(self) -> str:
        """How validation errors name the kind: ``Deployment.apps`` or ``Pod``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def prefix(self) -> str:
        """The URL prefix of its group version."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        namespaced=False,
        short_names=("ns",),
        subresources=("status",),
        status_subresource=True,
    ),
    Resource(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        short_names=("po",),
        categories=("all",),
        subresources=("status",),
        status_subresource=True,
    ),
    Resource(
        "",
        "v1",
        "Service",
        "services",
        "service",
        short_names=("svc",),
        categories=("all",),
        subresources=("status",),
        status_subresource=True,
    ),
    Resource("", "v1", "Event", "events", "event", short_names=("ev",)),
    Resource(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        "resourcequota",
        short_names=("quota",),
        subresources=("status",),
        status_subresource=True,
    ),
    Resource("", "v1", "ConfigMap", "configmaps", "configmap", short_names=("cm",)),
    Resource("", "v1", "Secret", "secrets", "secret"),
    Resource(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        short_names=("deploy",),
        categories=("all",),
        subresources=("scale", "status"),
        has_generation=True,
        status_subresource=True,
    ),
    Resource(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        short_names=("rs",),
        categories=("all",),
        subresources=("scale", "status"),
        has_generation=True,
        status_subresource=True,
    ),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", "lease"),
)

_BY_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def by_plural(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PLURAL.get((group, version, plural))


def resource(group: str, version: str, plural: str) -> Resource:
    """A served type by name (for module constants); an unknown one is a programming error."""
    found = _BY_PLURAL[(group, version, plural)]
    return found


def by_kind(api_version: str, kind: str) -> Resource | None:
    return _BY_KIND.get((api_version, kind))


def groups() -> list[tuple[str, str]]:
    """(group, version) pairs in discovery order; the core group first."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen
