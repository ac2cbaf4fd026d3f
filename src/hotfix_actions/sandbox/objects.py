"""Object helpers: timestamps, defaulting as kube-apiserver does it, validation, template identity and hashes."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hotfix_actions.sandbox.resources import Resource
from hotfix_actions.sandbox.status import ApiError, invalid

__all__ = [
    "HASH_LABEL",
    "SAFE_ALPHABET",
    "check_kind",
    "default_object",
    "default_pod_spec",
    "labels_of",
    "meta",
    "parse_time",
    "random_suffix",
    "rfc3339",
    "template_hash",
    "template_key",
    "validate_object",
]

HASH_LABEL = "pod-template-hash"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def rfc3339(when: float | None = None) -> str:
    """Kubernetes ``metav1.Time``: RFC 3339, second precision, UTC."""
    moment = datetime.fromtimestamp(time.time() if when is None else when, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m: dict[str, Any] = obj.setdefault("metadata", {})
    return m


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return labels


def random_suffix(seed: str, length: int = 5) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:length])


# -- template identity --------------------------------------------------------------------------------------------


def _prune(value: Any) -> Any:
    """Drop nulls and empty maps/lists so equal templates compare equal however they were serialised."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def template_key(template: Mapping[str, Any] | None) -> str:
    """A canonical text of a pod template, ignoring the ``pod-template-hash`` label (how ReplicaSets are matched)."""
    tmpl = copy.deepcopy(dict(template or {}))
    labels = (tmpl.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    (tmpl.get("metadata") or {}).pop("creationTimestamp", None)
    return json.dumps(_prune(tmpl), sort_keys=True, separators=(",", ":"))


def template_hash(template: Mapping[str, Any] | None, collisions: int = 0) -> str:
    """A stable 10-character ``pod-template-hash`` from kube's safe alphabet."""
    digest = hashlib.sha256(f"{template_key(template)}#{collisions}".encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:10])


# -- defaulting ---------------------------------------------------------------------------------------------------


def _default_container(c: dict[str, Any]) -> None:
    image = str(c.get("image") or "")
    if "imagePullPolicy" not in c:
        last = image.rsplit("/", 1)[-1]
        tagged = ":" in last and not last.endswith(":latest")
        c["imagePullPolicy"] = "IfNotPresent" if (tagged or "@" in image) else "Always"
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        p = c.get(probe)
        if isinstance(p, dict):
            for key, value in (
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
            ):
                p.setdefault(key, value)


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                _default_container(c)


def _default_template(tmpl: dict[str, Any]) -> None:
    tmpl.setdefault("metadata", {})
    if isinstance(tmpl.get("spec"), dict):
        default_pod_spec(tmpl["spec"])


def _default_deployment(obj: dict[str, Any], progress_deadline: int) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", progress_deadline)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxSurge", "25%")
        ru.setdefault("maxUnavailable", "25%")
    _default_template(spec.setdefault("template", {}))


def _default_service(obj: dict[str, Any], cluster_ip: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("clusterIP", cluster_ip)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def default_object(res: Resource, obj: dict[str, Any], *, progress_deadline: int = 600, cluster_ip: str = "") -> None:
    """Fill in the defaults kube-apiserver adds, in place (idempotent)."""
    kind = res.kind
    if kind == "Deployment":
        _default_deployment(obj, progress_deadline)
    elif kind == "ReplicaSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        _default_template(spec.setdefault("template", {}))
    elif kind == "Pod":
        default_pod_spec(obj.setdefault("spec", {}))
        spec = obj["spec"]
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
    elif kind == "Service":
        _default_service(obj, cluster_ip)
    elif kind == "Namespace":
        name = meta(obj).get("name", "")
        meta(obj).setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()


# -- validation ---------------------------------------------------------------------------------------------------


def _name_rule(res: Resource) -> tuple[re.Pattern[str], str, int]:
    if res.kind in {"Namespace"}:
        return _DNS1123_LABEL, "a lowercase RFC 1123 label", 63
    if res.kind == "Service":
        return _DNS1035_LABEL, "a DNS-1035 label", 63
    return _DNS1123_SUBDOMAIN, "a lowercase RFC 1123 subdomain", 253


def validate_object(res: Resource, obj: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> None:
    """422 for what kube-apiserver would refuse and the sandbox can check cheaply."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    causes: list[tuple[str, str]] = []
    pattern, what, limit = _name_rule(res)
    if not pattern.match(name) or len(name) > limit:
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a {what} must consist of lower case '
                "alphanumeric characters or '-', and must start and end with an alphanumeric "
                "character",
            )
        )
    if res.kind in {"Deployment", "ReplicaSet"}:
        from hotfix_actions.sandbox.selectors import object_selector_matcher

        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector:
            causes.append(("spec.selector", "Required value"))
        elif not object_selector_matcher(selector)(tmpl_labels):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {json.dumps(tmpl_labels)}: `selector` does not match template `labels`",
                )
            )
        if old is not None and selector != ((old.get("spec") or {}).get("selector")):
            causes.append(("spec.selector", f"Invalid value: {json.dumps(selector)}: field is immutable"))
        if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
            causes.append(("spec.template.spec.containers", "Required value"))
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    if res.kind == "Pod" and not (obj.get("spec") or {}).get("containers"):
        causes.append(("spec.containers", "Required value"))
    if causes:
        raise invalid(res, name, causes)


def check_kind(res: Resource, obj: Mapping[str, Any]) -> None:
    """The body names the right type (an empty apiVersion/kind is filled in)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if (api_version and api_version != res.api_version) or (kind and kind != res.kind):
        raise ApiError(
            400,
            f"the API version in the data ({api_version}) does not match the expected API version ({res.api_version})"
            if api_version != res.api_version
            else f"the kind in the data ({kind}) does not match the expected kind ({res.kind})",
        )
