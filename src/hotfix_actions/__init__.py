"""hotfix-actions: ship a production hotfix on Kubernetes safely, and roll back in seconds."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "1.0.0"
