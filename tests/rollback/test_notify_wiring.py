"""promote and rollback tell the team once per event through the configured webhook; a dead webhook only warns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.stack import StackSettings, deployment_manifest
from tests.notify.receiver import Answer, Receiver, receiver  # noqa: F401


def _hotfix(env: dict[str, str], *args: str) -> tuple[int, dict[str, object], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "hotfix_actions", *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_promote_and_rollback_notify_once_each(tmp_path: Path, receiver: Receiver) -> None:  # noqa: F811
    with Sandbox.start(ready_delay=0.1, kubeconfig_path=str(tmp_path / "kubeconfig")) as sb:
        sb.apply(
            deployment_manifest(
                StackSettings(namespace="default", deployment="web", container="web", image="ghcr.io/acme/web:1.0.0")
            )
        )
        sb.wait_rollout("default", "web", timeout=10)
        webhook = receiver.url()
        env = {"KUBECONFIG": str(tmp_path / "kubeconfig"), "HOTFIX_SLACK_WEBHOOK_URL": webhook}
        code, doc, err = _hotfix(env, "promote", "-d", "web", "--image", "ghcr.io/acme/web:1.0.0", "-n", "default")
        assert code == 0, doc
        code, doc, err = _hotfix(env, "promote", "-d", "web", "--image", "ghcr.io/acme/web:1.0.1", "-n", "default")
        assert code == 0, doc
        code, doc, err = _hotfix(
            env, "rollback", "-d", "web", "--to", "previous-lkg", "-n", "default", "--reason", "INC-5 <!channel>"
        )
        assert code == 0, doc
        texts = [json.dumps(r.json) for r in receiver.received]
        assert len(texts) == 3, texts
        assert "1.0.1" in texts[1] and "rolled" in texts[2].lower()
        assert "<!channel>" not in texts[2]  # user text is escaped
        assert webhook not in err and "XXXXSECRETXXXX" not in err
        # a dead webhook is a warning; the rollback result and exit code are unchanged
        receiver.script.append(Answer(status=404, body="no_service"))
        code, doc, err = _hotfix(
            env, "rollback", "-d", "web", "--to-image", "ghcr.io/acme/web:1.0.1", "-n", "default", "--reason", "INC-6"
        )
        assert code == 0, doc
        assert "warning" in err.lower()
