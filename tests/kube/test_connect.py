"""Credentials: kubeconfig files (and KUBECONFIG lists), a base64 kubeconfig in a 0600 temp file, contexts,
namespaces, and the secrets that must be masked."""

from __future__ import annotations

import base64
import stat
import tempfile
from pathlib import Path

import pytest
import yaml

from hotfix_actions.errors import UsageError
from hotfix_actions.kube import ConnectOptions, connect, decode_kubeconfig, kubeconfig_secrets
from hotfix_actions.sandbox import Sandbox
from tests.kube.kubefix import FAST

TOKEN = "sha256~s3cr3t-token-value"


def _config(sandbox: Sandbox, namespace: str = "prod") -> dict[str, object]:
    doc = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    doc["users"][0]["user"] = {"token": TOKEN, "client-key-data": "a2V5LWRhdGE="}
    doc["contexts"].append({"name": "other", "context": {"cluster": doc["clusters"][0]["name"],
                            "user": doc["users"][0]["name"], "namespace": namespace}})  # fmt: skip
    return doc


def test_base64_kubeconfig_stays_in_memory_and_key_files_are_owner_only_and_removed(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = base64.b64encode(yaml.safe_dump(_config(sandbox)).encode()).decode()
    cluster = connect(ConnectOptions(kubeconfig_data=data, context="other"), FAST)
    assert cluster.connection.temp_file is None  # the kubeconfig itself is never written
    folders = list(tmp_path.glob("hotfix-kube-*"))
    assert len(folders) == 1 and stat.S_IMODE(folders[0].stat().st_mode) == 0o700
    key = folders[0] / "client.key"
    assert key.read_text() == "key-data" and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert cluster.namespace == "prod"
    assert cluster.namespace_exists("default")  # the token is sent; the sandbox accepts any
    cluster.close()
    assert not folders[0].exists() and not list(tmp_path.iterdir())


def test_context_namespace_and_option_override(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(_config(sandbox, "team-a")))
    with connect(ConnectOptions(kubeconfig=str(path), context="other"), FAST) as kc:
        assert kc.namespace == "team-a" and "context other" in kc.describe()
    with connect(ConnectOptions(kubeconfig=str(path), context="other", namespace="ops"), FAST) as kc:
        assert kc.namespace == "ops"
    with connect(ConnectOptions(kubeconfig=f"{tmp_path / 'missing'}:{path}"), FAST) as kc:  # KUBECONFIG list
        assert kc.namespace == "default" and kc.namespace_exists("default")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ConnectOptions(kubeconfig_data="not base64!"), "is not base64 of a kubeconfig"),
        (ConnectOptions(kubeconfig_data=base64.b64encode(b"\xff\xfe").decode()), "is not base64 of a kubeconfig"),
        (ConnectOptions(kubeconfig_data=base64.b64encode(b"a: [").decode()), "not YAML"),
        (ConnectOptions(kubeconfig_data=base64.b64encode(b"kind: Pod").decode()), "without 'clusters'"),
        (ConnectOptions(kubeconfig="/nonexistent/kubeconfig"), "cannot load Kubernetes credentials"),
    ],
)
def test_unusable_credentials_are_usage_errors(options: ConnectOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        connect(options, FAST)


def test_unknown_context_names_the_fix(sandbox: Sandbox) -> None:
    with pytest.raises(UsageError, match="cannot load Kubernetes credentials") as info:
        connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path), context="nope"), FAST)
    assert info.value.fix and "--context" in info.value.fix


def test_failed_load_removes_the_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    bad = base64.b64encode(yaml.safe_dump({"clusters": [], "contexts": [], "users": []}).encode()).decode()
    with pytest.raises(UsageError):
        connect(ConnectOptions(kubeconfig_data=bad), FAST)
    assert not list(tmp_path.glob("hotfix-kubeconfig-*"))


def test_secrets_are_listed_for_masking(sandbox: Sandbox) -> None:
    doc = _config(sandbox)
    doc["users"].append({"name": "exec", "user": {"exec": {"command": "x", "env": [{"name": "K", "value": "envsecret"}]},
                         "password": "hunter22"}})  # fmt: skip
    found = kubeconfig_secrets(yaml.safe_dump(doc))
    assert set(found) == {TOKEN, "a2V5LWRhdGE=", "envsecret", "hunter22"}
    assert sandbox.url not in found
    assert kubeconfig_secrets("a: [") == []
    text = decode_kubeconfig(base64.b64encode(yaml.safe_dump(doc).encode()).decode())
    assert TOKEN in text
