"""Pod templates, revisions and the last-known-good (LKG) record, as pure functions over API JSON.

The LKG record is what ``hotfix promote`` writes on the Deployment after a verified rollout: the images, the
pod-template hash, the revision, the time, the run, and (when small) the whole pod template compressed, so a
rollback can rebuild the target even after ``revisionHistoryLimit`` pruned its ReplicaSet. A short history of the
records is kept beside it (kubernetes#105732 and #51315 show why ReplicaSets alone are not a history).
"""

from __future__ import annotations

import base64
import copy
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHANGE_CAUSE",
    "HASH_LABEL",
    "LKG_ANNOTATION",
    "LKG_HISTORY_ANNOTATION",
    "REVISION",
    "REVISION_HISTORY",
    "LkgRecord",
    "Revision",
    "container_images",
    "history",
    "normalize_template",
    "revisions",
    "template_hash",
    "templates_equal",
    "with_images",
    "with_lkg",
]

LKG_ANNOTATION = "hotfix-actions.io/last-known-good"
LKG_HISTORY_ANNOTATION = "hotfix-actions.io/lkg-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
_MAX_STORED_TEMPLATE = 16 * 1024  # bytes of base64; annotations share a 256 KiB budget
_HISTORY_LENGTH = 10
_TEMPLATES_KEPT = 3  # the newest history entries keep their pod template, so a pruned one can still be rebuilt


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def normalize_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without the ``pod-template-hash`` label and without null fields (what kubectl compares)."""
    result: dict[str, Any] = _drop_nulls(copy.deepcopy(dict(template)))
    meta = result.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    if meta or labels:
        meta = dict(meta)
        if labels:
            meta["labels"] = labels
        else:
            meta.pop("labels", None)
        result["metadata"] = meta
    return result


def templates_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return normalize_template(a) == normalize_template(b)


def container_images(template: Mapping[str, Any]) -> dict[str, str]:
    """container name -> image, for the (regular) containers of a pod template."""
    spec = template.get("spec") or {}
    return {c.get("name", "?"): c.get("image", "") for c in spec.get("containers") or ()}


def with_images(template: Mapping[str, Any], images: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """A copy with each named container's image set; also returns the names no container (or init container) has."""
    result = copy.deepcopy(dict(template))
    spec = result.setdefault("spec", {})
    missing = []
    for name, image in images.items():
        found = False
        for key in ("containers", "initContainers"):
            for container in spec.get(key) or ():
                if container.get("name") == name:
                    container["image"] = image
                    found = True
        if not found:
            missing.append(name)
    return result, missing


def template_hash(obj: Mapping[str, Any]) -> str:
    """The ``pod-template-hash`` label of a ReplicaSet (or of its template)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    spec_labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    return str(labels.get(HASH_LABEL) or spec_labels.get(HASH_LABEL) or "")


@dataclass(frozen=True)
class Revision:
    """One owned ReplicaSet as ``kubectl rollout history`` shows it, plus what we need to target it."""

    number: int
    name: str
    template_hash: str
    images: tuple[tuple[str, str], ...]
    replicas: int
    ready: int
    change_cause: str
    history: tuple[int, ...]  # earlier numbers of the same template (revision-history annotation)
    template: Mapping[str, Any]

    def images_text(self) -> str:
        return ", ".join(f"{name}={image}" for name, image in self.images)


def _to_int(text: Any) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None


def revisions(replicasets: Sequence[Mapping[str, Any]]) -> list[Revision]:
    """The ReplicaSets with a revision annotation, oldest revision first."""
    found = []
    for rs in replicasets:
        meta = rs.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        number = _to_int(annotations.get(REVISION))
        if number is None:
            continue
        history = tuple(
            n for part in str(annotations.get(REVISION_HISTORY, "")).split(",") if (n := _to_int(part)) is not None
        )
        template = (rs.get("spec") or {}).get("template") or {}
        status = rs.get("status") or {}
        found.append(
            Revision(
                number=number,
                name=meta.get("name", "?"),
                template_hash=template_hash(rs),
                images=tuple(container_images(template).items()),
                replicas=int(status.get("replicas") or 0),
                ready=int(status.get("readyReplicas") or 0),
                change_cause=str(annotations.get(CHANGE_CAUSE, "")),
                history=history,
                template=template,
            )
        )
    return sorted(found, key=lambda r: r.number)


@dataclass(frozen=True)
class LkgRecord:
    """The last-known-good release of a Deployment, written at promote time."""

    images: tuple[tuple[str, str], ...]
    template_hash: str
    revision: int
    time: str
    run_url: str = ""
    run_id: str = ""
    template: str = ""  # zlib + base64 of the pod template JSON (hash label removed); empty when too large
    source: str = "promote"  # promote: verified by hotfix promote; rollback: chosen as the target of a rollback
    replaced: str = ""  # rollback: images of the release it replaced (the bad one), e.g. "web=registry/web:2"
    replaced_digest: str = ""  # rollback: digest of that release's pod template (decide.tracking.template_digest)
    why: str = ""  # rollback: the reason given (one line)

    @property
    def image(self) -> str:
        return self.images[0][1] if self.images else ""

    def images_text(self) -> str:
        return ", ".join(f"{name}={image}" for name, image in self.images)

    def describe(self) -> str:
        revision = f"revision {self.revision}" if self.revision else "a rebuilt template"
        return f"{revision} ({self.images_text()}, hash {self.template_hash or '?'}, {self.source} {self.time})"

    def same_release(self, other: LkgRecord) -> bool:
        """The same pod template (by hash, stored template or images), whatever the time or run."""
        if self.template and other.template:
            return self.template == other.template
        if self.template_hash and other.template_hash:
            return self.template_hash == other.template_hash
        return self.images == other.images

    @classmethod
    def build(
        cls,
        template: Mapping[str, Any],
        *,
        template_hash: str,
        revision: int,
        time: str,
        run_url: str = "",
        run_id: str = "",
        source: str = "promote",
        replaced: str = "",
        replaced_digest: str = "",
        why: str = "",
    ) -> LkgRecord:
        packed = base64.b64encode(
            zlib.compress(json.dumps(normalize_template(template), sort_keys=True).encode(), 9)
        ).decode()
        return cls(
            images=tuple(container_images(template).items()),
            template_hash=template_hash,
            revision=revision,
            time=time,
            run_url=run_url,
            run_id=run_id,
            template=packed if len(packed) <= _MAX_STORED_TEMPLATE else "",
            source=source,
            replaced=replaced,
            replaced_digest=replaced_digest,
            why=why,
        )

    def to_json(self, *, with_template: bool = True) -> str:
        data: dict[str, Any] = {
            "images": dict(self.images),
            "podTemplateHash": self.template_hash,
            "revision": self.revision,
            "time": self.time,
            "runUrl": self.run_url,
            "runId": self.run_id,
            "source": self.source,
        }
        if with_template and self.template:
            data["template"] = self.template
        for key, value in (("replaced", self.replaced), ("replacedDigest", self.replaced_digest), ("why", self.why)):
            if value:
                data[key] = value
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_data(cls, data: Any) -> LkgRecord:
        """Parse one record; raises ValueError naming what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError("the record is not a JSON object")
        images = data.get("images")
        if not isinstance(images, Mapping) or not images or not all(isinstance(v, str) for v in images.values()):
            raise ValueError("'images' must map container names to images")
        revision = data.get("revision")
        if not isinstance(revision, int):
            raise ValueError("'revision' must be an integer")
        return cls(
            images=tuple((str(k), str(v)) for k, v in images.items()),
            template_hash=str(data.get("podTemplateHash") or ""),
            revision=revision,
            time=str(data.get("time") or ""),
            run_url=str(data.get("runUrl") or ""),
            run_id=str(data.get("runId") or ""),
            template=str(data.get("template") or ""),
            source=str(data.get("source") or "promote"),
            replaced=str(data.get("replaced") or ""),
            replaced_digest=str(data.get("replacedDigest") or ""),
            why=str(data.get("why") or ""),
        )

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, str] | None) -> LkgRecord | None:
        """The record on a Deployment, None when there is none; ValueError when it cannot be read."""
        text = (annotations or {}).get(LKG_ANNOTATION)
        if not text:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"annotation {LKG_ANNOTATION} is not JSON: {exc.msg}") from exc
        return cls.from_data(data)

    def pod_template(self) -> dict[str, Any] | None:
        if not self.template:
            return None
        try:
            decoded = json.loads(zlib.decompress(base64.b64decode(self.template)))
        except (ValueError, zlib.error):
            return None
        return decoded if isinstance(decoded, dict) else None


def history(annotations: Mapping[str, str] | None) -> list[LkgRecord]:
    """Earlier LKG records, newest first (unreadable entries are skipped)."""
    text = (annotations or {}).get(LKG_HISTORY_ANNOTATION)
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    records = []
    for item in data if isinstance(data, list) else ():
        try:
            records.append(LkgRecord.from_data(item))
        except ValueError:
            continue
    return records


def with_lkg(deployment: Mapping[str, Any], record: LkgRecord) -> dict[str, Any]:
    """A copy of the Deployment carrying ``record`` as its LKG, pushed onto the history (newest first). A record of
    the same release as the newest entry replaces it (promoting the same image again adds nothing)."""
    result = copy.deepcopy(dict(deployment))
    meta = result.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    past = history(annotations)
    if not past:
        try:
            current = LkgRecord.from_annotations(annotations)
        except ValueError:
            current = None
        past = [current] if current is not None else []
    if past and past[0].same_release(record) and past[0].source == record.source:
        past = past[1:]
    entries = [record, *past][:_HISTORY_LENGTH]
    annotations[LKG_ANNOTATION] = record.to_json()
    annotations[LKG_HISTORY_ANNOTATION] = (
        "[" + ",".join(r.to_json(with_template=i < _TEMPLATES_KEPT) for i, r in enumerate(entries)) + "]"
    )
    meta["annotations"] = annotations
    return result
