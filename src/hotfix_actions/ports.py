"""One typing.Protocol per external system. Services talk to these; adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hotfix_actions.decide.db_live import Activity, LockWait, Preflight
    from hotfix_actions.decide.rollout import RolloutResult
    from hotfix_actions.decide.tracking import Expectation

__all__ = [
    "BackupStore",
    "Cluster",
    "Commit",
    "Database",
    "Deployments",
    "DumpContents",
    "Event",
    "FileChange",
    "Git",
    "GitHub",
    "GitHubRepoApi",
    "GitMerge",
    "IssueRef",
    "KubeObject",
    "LeaseState",
    "LiveDatabase",
    "MetricSample",
    "Metrics",
    "Notifier",
    "NullDeployments",
    "NullGitHub",
    "NullGitHubRepoApi",
    "NullMetrics",
    "NullNotifier",
    "NullScaler",
    "PendingOperation",
    "Probe",
    "ProbeResult",
    "PullRequestRef",
    "PushResult",
    "QuarantinedFile",
    "ReleaseRef",
    "Scaler",
    "StoredBackup",
    "TagRef",
    "TreeMerge",
]


@dataclass(frozen=True)
class FileChange:
    path: str
    added: int
    deleted: int
    binary: bool = False


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    trailers: tuple[tuple[str, str], ...] = ()
    parents: int = 1


@dataclass(frozen=True)
class TagRef:
    name: str
    sha: str  # the peeled commit


class Git(Protocol):
    """A git repository, driven with argv lists; every ref was checked before it gets here."""

    def resolve(self, ref: str) -> str | None: ...
    def current_branch(self) -> str | None: ...
    def is_shallow(self) -> bool: ...
    def has_remote(self, remote: str) -> bool: ...
    def fetch(
        self,
        remote: str,
        refspecs: Sequence[str],
        *,
        depth: int | None = None,
        deepen: int | None = None,
        unshallow: bool = False,
    ) -> None: ...
    def is_ancestor(self, ancestor: str, descendant: str) -> bool | None: ...
    def count_commits(self, base: str, head: str) -> int: ...
    def tags(self, prefix: str, *, merged_into: str | None = None, namespace: str = "refs/tags") -> list[TagRef]: ...
    def remote_tags(self, remote: str, prefix: str) -> list[TagRef]: ...
    def diff_numstat(self, base: str, head: str) -> list[FileChange]: ...
    def commits(self, base: str, head: str, trailer_keys: Sequence[str]) -> list[Commit]: ...
    def show_file(self, rev: str, path: str) -> str | None: ...
    def show_files(self, rev: str, paths: Sequence[str]) -> dict[str, str]: ...
    def is_clean(self) -> bool: ...
    def create_branch(self, name: str, start: str) -> None: ...
    def write_and_commit(self, files: dict[str, str], message: str) -> str: ...
    def push(self, remote: str, refspec: str, *, set_upstream: bool = False) -> None: ...
    def ref_heads(self, prefix: str) -> dict[str, str]: ...
    def remote_heads(self, remote: str, prefix: str) -> dict[str, str]: ...


class GitHub(Protocol):
    """The GitHub REST API for one repository (PyGithub inside the adapter)."""

    def compare_status(self, base: str, head: str) -> str:
        """GitHub's compare status of head against base: ahead, behind, diverged or identical."""
        ...


class NullGitHub:
    """No token: every call says it cannot help, so callers fall back to git."""

    def compare_status(self, base: str, head: str) -> str:
        from hotfix_actions.errors import GitHubError

        raise GitHubError("no GitHub token", fix="pass github-token (GITHUB_TOKEN) to use the GitHub API")


@dataclass(frozen=True)
class Event:
    """Something the team must hear about. One per event, never one per interval."""

    kind: str  # started | canary | promoted | rolled_back | failed | merged_back | ...
    title: str
    version: str = ""
    verdict: str = ""
    reasons: tuple[str, ...] = ()
    actor: str = ""
    run_url: str = ""
    environment: str = ""
    fields: tuple[tuple[str, str], ...] = ()


class Notifier(Protocol):
    """Slack, a generic webhook, Teams... A failed notification is a warning: ``notify`` never raises."""

    def notify(self, event: Event) -> str | None:
        """Send; return a warning text when it could not be delivered, else None."""
        ...


class NullNotifier:
    """No webhook configured: nothing to send, nothing to ask."""

    def notify(self, event: Event) -> str | None:
        return None


class Deployments(Protocol):
    """GitHub Deployments for one repository: where GitHub users look for what runs where."""

    def start(self, environment: str, ref: str, payload: dict[str, str], description: str) -> int | None: ...
    def finish(self, deployment_id: int | None, state: str, description: str, log_url: str = "") -> None: ...
    def last_successful(self, environment: str) -> dict[str, str] | None: ...


class NullDeployments:
    """No token: deployments are not recorded."""

    def start(self, environment: str, ref: str, payload: dict[str, str], description: str) -> int | None:
        return None

    def finish(self, deployment_id: int | None, state: str, description: str, log_url: str = "") -> None:
        return None

    def last_successful(self, environment: str) -> dict[str, str] | None:
        return None


# -- database (issue 6) --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DumpContents:
    """What a full read of a custom-format dump found: its header and the rows of each table's data."""

    dumped_from: str  # server version the dump was taken from, e.g. "15.18"
    dumped_by: str  # pg_dump version, e.g. "15.18"
    rows: tuple[tuple[str, int], ...]  # (qualified table name as pg_dump writes it, row count)


class Database(Protocol):
    """One PostgreSQL database reached with pg_dump/pg_restore/psql. The password lives only in the children's
    environment (or a 0600 .pgpass); it never reaches argv, a log or an error message."""

    @property
    def name(self) -> str: ...
    def describe(self) -> str:
        """user@host:port/database, without the password."""
        ...

    def client_version(self) -> str:
        """The version of pg_dump and pg_restore, e.g. "15.18"; DatabaseError when they are missing or disagree."""
        ...

    def server_version(self) -> str:
        """The server's version, e.g. "15.18" (connects)."""
        ...

    def dump(self, target: str, *, compress: int | None = None) -> None:
        """pg_dump -Fc (at ``compress`` level, else pg_dump's default) into ``target``; DatabaseError on failure."""
        ...

    def toc_entries(self, dump: str) -> int:
        """pg_restore --list: the table of contents is readable; the number of entries."""
        ...

    def read_all(self, dump: str) -> DumpContents:
        """Read every block of the dump (what pg_restore -f /dev/null does) and count the rows of each table."""
        ...

    def count_rows(self, tables: Sequence[str], *, database: str | None = None) -> dict[str, int]: ...
    def restore(self, dump: str, *, database: str | None = None, clean: bool = True, owner: bool = True) -> None:
        """pg_restore --single-transaction (--clean --if-exists; without owner: --no-owner --no-privileges)."""
        ...

    def create_scratch(self) -> str:
        """A new empty database for a deep verify; returns its name."""
        ...

    def drop_database(self, name: str) -> None: ...
    def query_value(self, sql: str) -> str:
        """Run a read-only check and return the first column of the first row ("" when there is none)."""
        ...


@dataclass(frozen=True)
class StoredBackup:
    """One backup in a store: its name, the local dump path when readable, and its manifest (None when missing)."""

    name: str
    dump_path: str
    size: int
    manifest: dict[str, object] | None


@dataclass(frozen=True)
class QuarantinedFile:
    """A failed or partial dump moved aside: never a backup, kept a while for diagnosis."""

    name: str
    path: str
    size: int
    mtime: float  # seconds since the epoch
    reason: str


class BackupStore(Protocol):
    """Where dumps and their manifests live. A local folder today; object storage would implement the same port."""

    def describe(self) -> str: ...
    def reserve(self, name: str) -> str:
        """A fresh temporary path to write the dump of ``name`` to (on the same filesystem as the final file)."""
        ...

    def digest(self, path: str) -> tuple[int, str]:
        """fsync ``path`` and return (size in bytes, SHA-256 hex)."""
        ...

    def publish(self, temp: str, name: str, manifest: dict[str, object]) -> StoredBackup:
        """Atomically move the dump in place, then write its manifest (the manifest last: it marks a backup)."""
        ...

    def quarantine(self, temp: str, name: str, reason: str) -> str | None:
        """Move a failed or partial dump aside so nothing mistakes it for a backup; returns where it went."""
        ...

    def update_manifest(self, name: str, manifest: dict[str, object]) -> None: ...
    def get(self, name: str) -> StoredBackup | None: ...
    def list(self) -> list[StoredBackup]: ...
    def delete(self, name: str) -> None: ...
    def list_quarantine(self) -> Sequence[QuarantinedFile]: ...
    def delete_quarantined(self, name: str) -> None: ...


class PendingOperation(Protocol):
    """Something the restore session is doing; poll it (and report who it waits for) until it has finished."""

    error: str | None
    sent: int  # bytes of script sent so far

    def poll(self, timeout: float) -> bool: ...


class LiveDatabase(Protocol):
    """A restore into a database others may be using (``db.LiveRestore``): look at the other sessions, act on them,
    block new connections, and restore in one transaction that takes its locks with a timeout of its own. Our server
    sessions are named by ``token``; a guard process undoes a connection block and ends them if we die."""

    token: str

    def open(self) -> Preflight: ...
    def look(self) -> Activity: ...
    def waits(self) -> list[LockWait]: ...
    def terminate(self, pids: list[int]) -> dict[int, str | None]: ...
    def ours(self) -> list[int]: ...
    def wait_gone(self, pids: list[int], timeout: float) -> list[int]: ...
    def count_rows(self, tables: list[str]) -> dict[str, int | None]: ...
    def start_guard(self, database: str) -> None: ...
    def tell_guard(self, line: str) -> None: ...
    def block_connections(self, database: str) -> bool: ...
    def allow_connections(self, database: str) -> bool: ...
    def begin(self) -> PendingOperation: ...
    def load(self, dump: str, *, owner: bool = True) -> PendingOperation: ...
    def counts_in_transaction(self, tables: list[str]) -> dict[str, int | None]: ...
    def commit(self, timeout: float) -> bool | None: ...
    def end_restore_session(self, timeout: float = 15.0) -> list[int]: ...
    def close_restore_session(self) -> None: ...
    def release_guard(self, *, cleaned_up: bool) -> bool: ...
    def close(self) -> None: ...


class Scaler(Protocol):
    """The application that writes to the database: scaled to zero for a restore and back afterwards."""

    def describe(self) -> str: ...
    def current_replicas(self) -> int: ...
    def scale(self, replicas: int) -> None:
        """Set the replica count and wait until it holds; raises ClusterError when it does not in time."""
        ...


class NullScaler:
    """Nothing to scale: the restore runs while the application keeps running (or is stopped by hand)."""

    def describe(self) -> str:
        return "no application scaler"

    def current_replicas(self) -> int:
        return 0

    def scale(self, replicas: int) -> None:
        return None


# -- kubernetes (issue 3) ------------------------------------------------------------------------------
KubeObject = dict[str, Any]
"""A Kubernetes object as the API serves it: plain JSON (camelCase keys), ``metadata.resourceVersion`` included."""


@dataclass(frozen=True)
class LeaseState:
    """A coordination.k8s.io Lease used as a lock: who holds it, until when, and whether we do now."""

    namespace: str
    name: str
    holder: str  # "" when nobody holds it
    acquired: bool  # True when the caller holds it after the call
    renewed: str  # RFC 3339 time of the last renewal ("" when unknown)
    duration_seconds: int
    reason: str  # why it was (not) acquired, with the numbers
    acquired_at: str = ""  # RFC 3339 time the holder took it (spec.acquireTime)
    renewed_ago: float | None = None  # seconds since the last renewal, by the reader's clock

    def describe(self) -> str:
        """The lock in words: "locked by <holder> since <time>, renewed <n> s ago" (or "free")."""
        if not self.holder:
            return "free"
        since = f" since {self.acquired_at}" if self.acquired_at else ""
        ago = f", renewed {self.renewed_ago:.0f} s ago" if self.renewed_ago is not None else ""
        return f"locked by {self.holder}{since}{ago} (TTL {self.duration_seconds} s)"


class Cluster(Protocol):
    """One Kubernetes cluster (one kubeconfig context). Implemented by ``kube.KubeCluster``.

    ``kind`` is the plural resource name: deployments, replicasets, pods, services, events, leases, configmaps,
    namespaces. Errors: NotFoundError (404), ConflictError (409: re-read and decide again), ClusterError (anything
    else after bounded retries). Every write that updates carries the ``metadata.resourceVersion`` it was given.
    """

    @property
    def namespace(self) -> str:
        """The namespace used when a caller has none: the option, the context's, the pod's, else "default"."""
        ...

    def describe(self) -> str:
        """Server URL and context, for logs (no credentials)."""
        ...

    def get(self, kind: str, namespace: str, name: str) -> KubeObject: ...
    def list_objects(
        self, kind: str, namespace: str, *, labels: Mapping[str, str] | None = None
    ) -> list[KubeObject]: ...
    def namespace_exists(self, namespace: str) -> bool: ...
    def owned_replicasets(self, deployment: KubeObject) -> list[KubeObject]:
        """ReplicaSets whose controller ownerReference is this Deployment's uid (what kubectl rollout history uses)."""
        ...

    def create(self, kind: str, namespace: str, obj: KubeObject) -> KubeObject:
        """POST; an existing name is a ConflictError."""
        ...

    def replace(self, kind: str, namespace: str, obj: KubeObject) -> KubeObject:
        """PUT the whole object; its metadata.resourceVersion is the precondition (409 -> ConflictError)."""
        ...

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """DELETE; an absent object is not an error."""
        ...

    def scale(self, namespace: str, deployment: str, replicas: int) -> KubeObject:
        """Set spec.replicas through the scale subresource; returns the Scale."""
        ...

    def set_images(
        self, namespace: str, deployment: str, images: Mapping[str, str], change_cause: str = ""
    ) -> KubeObject:
        """Read, set each named container's image, replace with the read resourceVersion (like kubectl set image,
        but conditional; a lost race is re-read and retried a few times, since the images do not depend on what was
        read). UsageError naming the containers when one is missing."""
        ...

    def set_service_selector(
        self,
        namespace: str,
        service: KubeObject,
        selector: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
    ) -> KubeObject:
        """PUT the Service as it was read with a new spec.selector (and added annotations): one request,
        conditional on the resourceVersion it carries (a change since the read is a ConflictError)."""
        ...

    def events(self, namespace: str, involved: str) -> list[KubeObject]:
        """Events whose involvedObject has this name, oldest first."""
        ...

    def acquire_lease(self, namespace: str, name: str, holder: str, ttl_seconds: int) -> LeaseState:
        """Take (or renew) the lease when it is free, ours or expired; otherwise say who holds it. Never waits."""
        ...

    def release_lease(self, namespace: str, name: str, holder: str) -> None:
        """Give the lease up if we hold it (clears the holder); someone else's lease is left alone."""
        ...

    def read_lease(self, namespace: str, name: str) -> LeaseState | None: ...

    def server_time(self) -> float | None:
        """The API server's clock at its last answer (epoch seconds), None before any answer."""
        ...

    def wait_for_rollout(
        self,
        namespace: str,
        deployment: str,
        *,
        timeout: float,
        fail_fast_after: float | None = None,
        on_progress: Callable[[str], None] | None = None,
        expect: Expectation | None = None,
        settle: float = 0.0,
        immediate_reasons: Sequence[str] = ...,
    ) -> RolloutResult:
        """Wait by kubectl's rollout-status rules (decide.rollout); on failure or timeout name the blocking pod
        reason. With ``expect`` (what our write left), follow it: another writer's template is SUPERSEDED, a new
        pod's restart or a reason in ``immediate_reasons`` fails at once, a ReplicaFailure fails with its message;
        ``settle`` seconds after completion keep watching (decide.tracking). Never raises for a failed rollout."""
        ...


@dataclass(frozen=True)
class PullRequestRef:
    number: int
    url: str
    created: bool  # False: an open pull request for the same head and base was found and updated


@dataclass(frozen=True)
class ReleaseRef:
    url: str
    created: bool


@dataclass(frozen=True)
class IssueRef:
    number: int
    url: str
    created: bool = False
    texts: tuple[str, ...] = ()  # the body, then every comment: what a rerun compares against


class GitHubRepoApi(GitHub, Protocol):
    """Writes to one repository: pull requests, labels, releases, issues. None means "no GitHub here"."""

    def open_or_update_pull(
        self, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequestRef | None:
        """The one open pull request from head into base, created or updated (body, labels); never a duplicate."""
        ...

    def enable_auto_merge(self, number: int) -> str | None:
        """Merge (with a merge commit) once checks pass; return a warning when it could not be enabled."""
        ...

    def ensure_release(self, tag: str, name: str, body: str) -> ReleaseRef | None: ...

    def find_issue(self, label: str, marker: str) -> IssueRef | None:
        """The issue (open or closed) carrying ``label`` whose body contains ``marker``, with its comments."""
        ...

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef | None: ...

    def comment(self, number: int, body: str) -> str | None: ...

    def ensure_label(self, name: str, color: str, description: str) -> None: ...


class NullGitHubRepoApi(NullGitHub):
    """No token: nothing is written to GitHub; callers report the manual steps instead."""

    def open_or_update_pull(
        self, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequestRef | None:
        return None

    def enable_auto_merge(self, number: int) -> str | None:
        return "no GitHub token: auto-merge not enabled"

    def ensure_release(self, tag: str, name: str, body: str) -> ReleaseRef | None:
        return None

    def find_issue(self, label: str, marker: str) -> IssueRef | None:
        return None

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef | None:
        return None

    def comment(self, number: int, body: str) -> str | None:
        return None

    def ensure_label(self, name: str, color: str, description: str) -> None:
        return None


# -- HTTP health checks (issue 3) ----------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeResult:
    """One health check: passed or not, the last status seen, how many tries and seconds it took."""

    url: str
    ok: bool
    status: int | None
    attempts: int
    seconds: float
    detail: str


class Probe(Protocol):
    """HTTP health checks of a released application (``kube.probe.HttpProbe``, httpx inside)."""

    def check(
        self, url: str, *, expected_status: int = 200, retries: int = 5, interval: float = 2.0, timeout: float = 5.0
    ) -> ProbeResult:
        """GET ``url`` until it answers ``expected_status``; never raises: the result says what happened."""
        ...


@dataclass(frozen=True)
class TreeMerge:
    """A merge computed without a work tree: the tree when clean, else the conflicting paths."""

    tree: str | None
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PushResult:
    """Per destination ref: pushed, or refused by the remote with its reason (a hook, protection, non-fast-forward)."""

    pushed: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.rejected


class GitMerge(Git, Protocol):
    """What merge-back needs beyond ports.Git: merges without a checkout, annotated tags, non-forced pushes."""

    def ref_heads(self, prefix: str) -> dict[str, str]: ...
    def fetch_branches(self, remote: str, *, unshallow: bool = False) -> dict[str, str]: ...
    def merge_tree(self, ours: str, theirs: str) -> TreeMerge: ...
    def commit_tree(
        self, tree: str, parents: Sequence[str], message: str, identity: tuple[str, str] | None = None
    ) -> str: ...
    def create_tag(self, name: str, sha: str, message: str, identity: tuple[str, str] | None = None) -> None: ...
    def push_refs(self, remote: str, refspecs: Sequence[str]) -> PushResult:
        """Push without force; refusals come back in the result, transport failures raise GitError."""
        ...

    def first_parent_containing(self, target: str, commit: str) -> str | None:
        """The first commit on ``target``'s first-parent line that contains ``commit`` (the merge that brought it)."""
        ...

    def has_identity(self) -> bool: ...


# -- metrics (issue 4) ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSample:
    """One series of an instant-query result: its sorted label pairs and its value (NaN and +-Inf kept as such)."""

    labels: tuple[tuple[str, str], ...]
    value: float


class Metrics(Protocol):
    """A Prometheus-compatible query API (``metrics.PrometheusMetrics``, httpx inside).

    ``query`` evaluates PromQL at the Unix time ``at``. An empty vector is an empty list ("no values found"),
    never an error; a failed query (transport, timeout, non-success status, a result that is not a vector or
    scalar) raises MetricsError.
    """

    def query(self, promql: str, *, at: float) -> list[MetricSample]: ...

    def describe(self) -> str:
        """The server URL, for logs (no credentials)."""
        ...


class NullMetrics:
    """No Prometheus configured: every query fails, so a gate can never pass without metrics."""

    def query(self, promql: str, *, at: float) -> list[MetricSample]:
        from hotfix_actions.errors import MetricsError

        raise MetricsError("no Prometheus URL configured", fix="pass --prometheus-url or set HOTFIX_PROMETHEUS_URL")

    def describe(self) -> str:
        return "no Prometheus"
