"""API semantics over the store: create, update, patch, delete with defaulting, validation, generation,
resourceVersion preconditions, no-op detection, status subresources, finalizers and cascading deletes.

The HTTP layer, the controllers and ``Sandbox.apply`` all write through here, so every path obeys the same rules.
"""

from __future__ import annotations

import builtins
import copy
import time
import uuid
from collections.abc import Callable
from typing import Any

from hotfix_actions.sandbox.admission import admit
from hotfix_actions.sandbox.objects import check_kind, default_object, meta, random_suffix, rfc3339, validate_object
from hotfix_actions.sandbox.patch import PatchError, json_patch, merge_patch
from hotfix_actions.sandbox.resources import RESOURCES, Resource, by_kind, resource
from hotfix_actions.sandbox.selectors import field_matcher, label_matcher
from hotfix_actions.sandbox.settings import Settings
from hotfix_actions.sandbox.status import ApiError, already_exists, bad_request, conflict, not_found
from hotfix_actions.sandbox.store import Store
from hotfix_actions.sandbox.strategic import strategic_merge

__all__ = ["PATCH_TYPES", "Api", "Obj"]

Obj = dict[str, Any]
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


def _without_rv(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out.get("metadata", {}).pop("resourceVersion", None)
    return out


class Api:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def bootstrap(self) -> None:
        ns = resource("", "v1", "namespaces")
        for name in NAMESPACES:
            if self.store.get(ns, "", name) is None:
                self.create(ns, "", {"metadata": {"name": name}})

    # -- reading ------------------------------------------------------------------------------------------------
    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        found = self.store.get(res, namespace, name)
        if found is None:
            raise not_found(res, name)
        return found

    @staticmethod
    def matcher(res: Resource, labels: str | None, fields: str | None) -> Callable[[Obj], bool]:
        by_labels, by_fields = label_matcher(labels), field_matcher(fields, res.plural)
        return lambda obj: by_labels(obj) and by_fields(obj)

    def list(
        self, res: Resource, namespace: str | None, labels: str | None = None, fields: str | None = None
    ) -> tuple[list[Obj], int]:
        return self.store.list(res, namespace, self.matcher(res, labels, fields))

    # -- the write pipeline -------------------------------------------------------------------------------------
    def _namespace_ready(self, res: Resource, namespace: str, name: str) -> None:
        if not res.namespaced:
            return
        ns_res = RESOURCES[0]
        found = self.store.get(ns_res, "", namespace)
        if found is None:
            raise not_found(ns_res, namespace)
        if (found.get("metadata") or {}).get("deletionTimestamp"):
            raise ApiError(
                403,
                f'{res.qualified} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                reason="Forbidden",
            )

    def _cluster_ip(self) -> str:
        svc = resource("", "v1", "services")
        used = {str((o.get("spec") or {}).get("clusterIP")) for o in self.store.list(svc)[0]}
        n = 10
        while f"10.96.{n // 250}.{n % 250 + 1}" in used:
            n += 1
        return f"10.96.{n // 250}.{n % 250 + 1}"

    def create(self, res: Resource, namespace: str, body: Any, *, dry_run: bool = False) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not a JSON object")
        check_kind(res, body)
        obj = copy.deepcopy(body)
        m = meta(obj)
        body_ns = m.get("namespace")
        if res.namespaced:
            if body_ns and namespace and body_ns != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            m["namespace"] = namespace or body_ns or "default"
        else:
            m.pop("namespace", None)
        if not m.get("name"):
            if m.get("generateName"):
                m["name"] = m["generateName"] + random_suffix(uuid.uuid4().hex)
            else:
                raise ApiError(
                    422,
                    f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                    "name or generateName is required",
                    reason="Invalid",
                )
        with self.store.lock:
            self._namespace_ready(res, m["namespace"] if res.namespaced else "", m["name"])
            if self.store.get(res, m.get("namespace", ""), m["name"]) is not None:
                raise already_exists(res, m["name"])
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            for key in (*_SERVER_META, "resourceVersion", "managedFields", "selfLink", "generation"):
                m.pop(key, None)
            m["uid"] = str(uuid.uuid4())
            m["creationTimestamp"] = rfc3339()
            if res.has_generation:
                m["generation"] = 1
            if res.status_subresource:
                obj.pop("status", None)
            default_object(
                res,
                obj,
                progress_deadline=self.settings.progress_deadline_default,
                cluster_ip=self._cluster_ip() if res.kind == "Service" else "",
            )
            validate_object(res, obj)
            admit(self.store, self.settings, res, obj)
            if dry_run:
                return obj
            return self.store.put(res, obj, "ADDED")

    def save(self, res: Resource, old: Obj, new: Obj, *, subresource: str | None = None, dry_run: bool = False) -> Obj:
        """Write ``new`` over ``old`` (already read): server fields kept, status rules, defaults, generation;
        a write that changes nothing returns ``old`` and does not bump the resourceVersion."""
        new = copy.deepcopy(new)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        m, om = meta(new), old["metadata"]
        m["name"] = om["name"]
        if res.namespaced:
            m["namespace"] = om["namespace"]
        for key in _SERVER_META:
            if key in om:
                m[key] = om[key]
            else:
                m.pop(key, None)
        m.pop("managedFields", None)
        m.pop("selfLink", None)
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            m = new["metadata"]
        elif res.status_subresource and subresource != "internal":
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        cluster_ip = str((old.get("spec") or {}).get("clusterIP") or "") if res.kind == "Service" else ""
        default_object(res, new, progress_deadline=self.settings.progress_deadline_default, cluster_ip=cluster_ip)
        if subresource not in ("status", "internal"):
            validate_object(res, new, old)
        if res.has_generation:
            generation = int(om.get("generation") or 1)
            changed = new.get("spec") != old.get("spec")
            if res.kind == "Deployment" and subresource is None:
                # kube bumps it on a user's annotation change too (annotations are copied to ReplicaSets); the
                # controller writes its revision annotation through the status subresource, which does not
                changed = changed or m.get("annotations") != om.get("annotations")
            m["generation"] = generation + 1 if changed else generation
        if _without_rv(new) == _without_rv(old):
            return old
        m["resourceVersion"] = om.get("resourceVersion")
        if dry_run:
            return new
        if m.get("deletionTimestamp") and not m.get("finalizers"):
            self._delete_now(res, new, "Background")
            gone = copy.deepcopy(new)
            return gone
        return self.store.put(res, new, "MODIFIED")

    # -- verbs --------------------------------------------------------------------------------------------------
    @staticmethod
    def _precondition(res: Resource, current: Obj, wanted: Obj) -> None:
        wm, cm = wanted.get("metadata") or {}, current["metadata"]
        rv = wm.get("resourceVersion")
        if rv not in (None, "") and str(rv) != cm.get("resourceVersion"):
            raise conflict(res, cm["name"])
        uid = wm.get("uid")
        if uid not in (None, "") and uid != cm.get("uid"):
            raise ApiError(
                409,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {cm.get('uid')}",
                reason="Conflict",
            )

    def update(
        self,
        res: Resource,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """PUT: a stale ``metadata.resourceVersion`` is a 409; an empty one is an unconditional update."""
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not a JSON object")
        check_kind(res, body)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise bad_request(f"the name of the object ({body_name}) does not match the name on the URL ({name})")
        with self.store.lock:
            current = self.get(res, namespace, name)
            self._precondition(res, current, body)
            return self.save(res, current, body, subresource=subresource, dry_run=dry_run)

    def patched(self, res: Resource, current: Obj, content_type: str, patch: Any) -> Obj:
        """The object after ``patch`` (not saved); a resourceVersion in the patch is a precondition."""
        try:
            if content_type == "application/json-patch+json":
                result = json_patch(current, patch)
            elif content_type == "application/merge-patch+json":
                result = merge_patch(current, patch)
            elif content_type in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
                result = strategic_merge(current, patch, res.kind)
            else:
                raise ApiError(
                    415,
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(PATCH_TYPES)}",
                )
        except PatchError as exc:
            raise ApiError(exc.code, str(exc)) from exc
        if not isinstance(result, dict):
            raise ApiError(422, "the patch did not produce an object")
        self._precondition(res, current, result)
        return result

    def patch(
        self,
        res: Resource,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        with self.store.lock:
            current = self.store.get(res, namespace, name)
            if current is None:
                if content_type == "application/apply-patch+yaml" and isinstance(patch, dict):
                    return self.create(res, namespace, patch, dry_run=dry_run)
                raise not_found(res, name)
            result = self.patched(res, current, content_type, patch)
            return self.save(res, current, result, subresource=subresource, dry_run=dry_run)

    def delete(
        self, res: Resource, namespace: str, name: str, options: dict[str, Any] | None = None, *, dry_run: bool = False
    ) -> Obj:
        """Delete (or mark for deletion while finalizers remain); dependants follow unless orphaned."""
        options = options or {}
        with self.store.lock:
            current = self.get(res, namespace, name)
            pre = options.get("preconditions") or {}
            self._precondition(res, current, {"metadata": pre})
            if dry_run:
                return current
            policy = str(
                options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
            )
            if res.kind == "Namespace":
                return self._terminate_namespace(current)
            if res.kind == "Pod":
                return self._delete_pod(current, options)
            if current["metadata"].get("finalizers"):
                if not current["metadata"].get("deletionTimestamp"):
                    current["metadata"]["deletionTimestamp"] = rfc3339()
                    current["metadata"]["deletionGracePeriodSeconds"] = 0
                    return self.store.put(res, current, "MODIFIED")
                return current
            return self._delete_now(res, current, policy)

    def _delete_pod(self, pod: Obj, options: dict[str, Any]) -> Obj:
        """Graceful deletion, as the API server does it for a pod on a node: it goes Terminating
        (``deletionTimestamp`` = now + grace) and the kubelet removes it once its containers stop
        (``Kubelet._terminate``). ``gracePeriodSeconds: 0`` or a pod on no node goes at once."""
        m = pod["metadata"]
        if m.get("deletionTimestamp"):
            return pod
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        if int(grace) <= 0 or not (pod.get("spec") or {}).get("nodeName"):
            return self._delete_now(resource("", "v1", "pods"), pod, "Background")
        gone = copy.deepcopy(pod)
        gone["metadata"]["deletionTimestamp"] = rfc3339(time.time() + int(grace))
        gone["metadata"]["deletionGracePeriodSeconds"] = int(grace)
        return self.store.put(resource("", "v1", "pods"), gone, "MODIFIED")

    def finish_deletion(self, res: Resource, obj: Obj) -> None:
        """The kubelet's part of a graceful deletion: remove the object now."""
        with self.store.lock:
            current = self.store.get(res, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if current is not None and current["metadata"].get("uid") == obj["metadata"].get("uid"):
                self._delete_now(res, current, "Background")

    def terminating(self) -> set[str]:
        """Namespaces being deleted: controllers leave their contents alone."""
        items = self.store.list(RESOURCES[0])[0]
        return {n["metadata"]["name"] for n in items if n["metadata"].get("deletionTimestamp")}

    def _terminate_namespace(self, ns: Obj) -> Obj:
        """Namespaces go Terminating first; the namespace controller removes the contents, then the namespace."""
        if ns["metadata"].get("deletionTimestamp"):
            return ns
        ns["metadata"]["deletionTimestamp"] = rfc3339()
        ns["metadata"]["deletionGracePeriodSeconds"] = 0
        ns.setdefault("status", {})["phase"] = "Terminating"
        return self.store.put(RESOURCES[0], ns, "MODIFIED")

    def finalize_namespace(self, name: str) -> None:
        """Delete everything in a Terminating namespace, then the namespace itself."""
        with self.store.lock:
            found = self.store.get(RESOURCES[0], "", name)
            if found is not None:
                self._delete_now(RESOURCES[0], found, "Background")

    def _delete_now(self, res: Resource, obj: Obj, policy: str) -> Obj:
        m = obj["metadata"]
        uid = m.get("uid")
        if res.kind == "Namespace":
            for other in RESOURCES:
                if other.namespaced:
                    for item in self.store.list(other, m["name"])[0]:
                        self.store.remove(other, m["name"], item["metadata"]["name"])
        elif uid:
            self._cascade(uid, policy)
        gone = self.store.remove(res, m.get("namespace", ""), m["name"])
        return gone if gone is not None else obj

    def _cascade(self, owner_uid: str, policy: str) -> None:
        for res, obj in list(self.store.iter_all()):
            refs = (obj.get("metadata") or {}).get("ownerReferences") or []
            if not any(r.get("uid") == owner_uid for r in refs):
                continue
            ns, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
            if policy == "Orphan":
                kept = copy.deepcopy(obj)
                kept["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid]
                if not kept["metadata"]["ownerReferences"]:
                    del kept["metadata"]["ownerReferences"]
                self.store.put(res, kept, "MODIFIED")
            else:
                current = self.store.get(res, ns, name)
                if current is not None and res.kind == "Pod":  # the garbage collector deletes pods gracefully
                    self._delete_pod(current, {})
                elif current is not None:
                    self._delete_now(res, current, policy)

    def delete_collection(
        self,
        res: Resource,
        namespace: str | None,
        labels: str | None,
        fields: str | None,
        options: dict[str, Any] | None = None,
    ) -> builtins.list[Obj]:
        items, _ = self.list(res, namespace, labels, fields)
        out = []
        for item in items:
            try:
                out.append(self.delete(res, item["metadata"].get("namespace", ""), item["metadata"]["name"], options))
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return out

    # -- helpers for controllers and tests ----------------------------------------------------------------------
    def write_internal(self, res: Resource, obj: Obj) -> Obj:
        """A controller write: spec and status together, no validation, no precondition; no-op aware."""
        with self.store.lock:
            current = self.store.get(res, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if current is None:
                return obj
            return self.save(res, current, obj, subresource="internal")

    def apply(self, obj: Obj) -> Obj:
        """Create, or replace spec and metadata of, one object (status kept); its namespace is created if absent."""
        res = by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if res is None:
            raise bad_request(f"the sandbox does not serve {obj.get('apiVersion')}/{obj.get('kind')}")
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise bad_request(f"a {res.kind} to apply needs metadata.name")
        namespace = (obj.get("metadata") or {}).get("namespace") or ("default" if res.namespaced else "")
        with self.store.lock:
            if res.namespaced and self.store.get(RESOURCES[0], "", namespace) is None:
                self.create(RESOURCES[0], "", {"metadata": {"name": namespace}})
            current = self.store.get(res, namespace, name)
            if current is None:
                return self.create(res, namespace, obj)
            body = copy.deepcopy(obj)
            meta(body).pop("resourceVersion", None)
            return self.save(res, current, body)
