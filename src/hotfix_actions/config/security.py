"""`security:` what the configuration from the trusted ref allows beyond the defaults.

Options that decide where credentials go or what runs with them cannot come through the root action's ``args``
(one word per line: a newline inside an interpolated event value would add one) unless they are listed here; the
GitHub API and server URLs must be the runner's own (GITHUB_API_URL, GITHUB_SERVER_URL) unless listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig

__all__ = ["TRUST_OPTIONS", "SecurityConfig"]

# click parameter name -> the option, for options that move trust (where a token, password or kubeconfig goes;
# which files, programs or repository are used with them; where the canary's evidence comes from).
TRUST_OPTIONS: dict[str, str] = {
    "config_path": "--config",
    "github_api_url": "--github-api-url",
    "github_server_url": "--github-server-url",
    "github_repository": "--github-repository",
    "pg_bindir": "--pg-bindir",
    "database_url": "--database-url",
    "prometheus_url": "--prometheus-url",
    "kubeconfig": "--kubeconfig",
    "kubeconfig_data": "--kubeconfig-data",
    "context": "--context",
    "repo_path": "--repo",
    "replay": "--replay",
    "ref": "--ref",  # config fetch: which ref's configuration is trusted
    "path": "--path",  # config fetch: which file of it
}


@dataclass(frozen=True)
class SecurityConfig(SectionConfig):
    SECTION: ClassVar[str] = "security"

    allow_args: tuple[str, ...] = ()
    github_api_urls: tuple[str, ...] = ()
    github_server_urls: tuple[str, ...] = ()
