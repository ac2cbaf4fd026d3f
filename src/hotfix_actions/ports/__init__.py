"""One typing.Protocol per external system. Services talk to these; adapters implement them.

One module per system (git, github, db, kube, metrics); everything is importable from here.
"""

from __future__ import annotations

from hotfix_actions.ports.db import (
    BackupStore,
    Database,
    DumpContents,
    LiveDatabase,
    NullScaler,
    PendingOperation,
    QuarantinedFile,
    Scaler,
    StoredBackup,
)
from hotfix_actions.ports.git import (
    Commit,
    FileChange,
    Git,
    GitMerge,
    PushResult,
    TagRef,
    TreeMerge,
)
from hotfix_actions.ports.github import (
    Deployments,
    Event,
    GitHub,
    GitHubRepoApi,
    IssueRef,
    Notifier,
    NullDeployments,
    NullGitHub,
    NullGitHubRepoApi,
    NullNotifier,
    PullRequestRef,
    ReleaseRef,
)
from hotfix_actions.ports.kube import (
    Cluster,
    KubeObject,
    LeaseState,
    Probe,
    ProbeResult,
)
from hotfix_actions.ports.metrics import (
    Metrics,
    MetricSample,
    NullMetrics,
)

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
