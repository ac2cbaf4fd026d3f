from __future__ import annotations

from hotfix_actions.cli import main

main()
