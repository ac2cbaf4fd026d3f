"""The GitHub adapter: PyGithub, imported here only and lazily, pointed at ``base_url`` (GitHub, GHES or the test
emulator). ``GitHubRepo`` implements ports.GitHub and ports.GitHubRepoApi; ``GitHubDeployments`` ports.Deployments.
"""

from __future__ import annotations

from hotfix_actions.github._client import ClientOptions
from hotfix_actions.github.deployments import FINISH_STATES, GitHubDeployments
from hotfix_actions.github.repo import GitHubRepo

__all__ = ["FINISH_STATES", "ClientOptions", "GitHubDeployments", "GitHubRepo"]
