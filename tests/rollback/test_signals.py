"""Item 2: SIGTERM and SIGINT, sent by pid to the real running `hotfix` process. It stops waiting, releases the
Lease, removes its temporary credentials, prints one line saying what the Deployment was left running (a write it
already sent is reported, not hidden) and exits 143 or 130. On both clusters."""

from __future__ import annotations

import base64
import datetime
import signal
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.clusters import KubeUnderTest
from tests.kube.kubefix import GOOD, GOOD2
from tests.rollback.truth import edit_template, hotfix_env, live_image, promote_lkg, slow, spawned, start, tool

GOOD3 = "registry.example/web:1.3"
CONFIG = "version: 1\ncluster: {poll_interval: 0.1}\n"


def _client_pair() -> tuple[str, str]:
    """A self-signed client certificate: both API servers ignore a certificate they cannot verify and use the
    token, so it is only there to be a temporary credential the tool must write and then remove."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotfix-signal-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem.decode()


def _kubeconfig_data(kube: KubeUnderTest) -> str:
    doc = yaml.safe_load(kube.kubeconfig_path.read_text())
    for entry in doc["clusters"]:  # the CA goes inline: the secret is the whole kubeconfig
        ca = entry["cluster"].pop("certificate-authority", None)
        if ca:
            entry["cluster"]["certificate-authority-data"] = base64.b64encode(Path(ca).read_bytes()).decode()
    cert, key = _client_pair()
    for entry in doc["users"]:
        entry["user"]["client-certificate-data"] = base64.b64encode(cert.encode()).decode()
        entry["user"]["client-key-data"] = base64.b64encode(key.encode()).decode()
    return base64.b64encode(yaml.safe_dump(doc).encode()).decode()


def _lease_holder(kube: KubeUnderTest) -> str | None:
    lease = kube.get("coordination.k8s.io/v1", "leases", kube.namespace, "hotfix-lock-web")
    return None if lease is None else str((lease.get("spec") or {}).get("holderIdentity") or "")


def _secrets_on_disk(tmp_path: Path) -> list[Path]:
    temp = tmp_path / "tmp"
    return [*temp.glob("hotfix-kube-*"), *temp.glob("hotfix-kubeconfig-*")]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_wait_reports_the_write_and_cleans_up(
    kube: KubeUnderTest, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:  # the bad release's template makes slow pods: our rollback waits on them
        edit_template(kube, cluster, annotations=slow(120), image=GOOD2)
    env = hotfix_env(kube, tmp_path, CONFIG, HOTFIX_KUBECONFIG_DATA=_kubeconfig_data(kube), HOTFIX_TIMEOUT="300")
    env.pop("HOTFIX_KUBECONFIG")
    with spawned(["rollback", "-d", "web", "--to-image", GOOD3, "--fail-fast-after", "300"], env) as proc:
        kube.wait_for(lambda: live_image(kube) == GOOD3 or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, proc.communicate()
        assert _lease_holder(kube), "the running rollback holds the lease"
        assert _secrets_on_disk(tmp_path), "the client key is in a temporary folder while it runs"
        time.sleep(0.5)  # well inside the wait
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    text = out + err
    assert proc.returncode == code, text
    assert took < 7.5, f"{took:.1f}s: a cancelled job gets SIGTERM 7.5 s after SIGINT"
    said = {line[line.index("interrupted by") :] for line in text.splitlines() if "interrupted by" in line}
    assert len(said) == 1, text  # one line (the step, repeated in the final table)
    line = said.pop()
    assert line.startswith(f"interrupted by {sig.name}: this rollback wrote web={GOOD3} at "), line
    assert "the rollout was not verified" in line and "(generation " in line
    assert f"deployment {kube.namespace}/web: it now runs web={GOOD3} (our write; " in line
    assert _lease_holder(kube) == "", "the lease is released"
    assert not _secrets_on_disk(tmp_path), "no temporary credential is left behind"
    assert live_image(kube) == GOOD3  # what the line says is what runs


def test_a_signal_while_waiting_for_the_lock_says_nothing_was_written(kube: KubeUnderTest, tmp_path: Path) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:
        assert cluster.acquire_lease(kube.namespace, "hotfix-lock-web", "github-run-7-1", 300).acquired
        env = hotfix_env(kube, tmp_path, CONFIG)
        with spawned(["rollback", "-d", "web", "--to-image", GOOD2, "--lock-timeout", "120"], env) as proc:
            time.sleep(3)  # connected, found the deployment, waiting for the lock
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 143, out + err
        assert "interrupted by SIGTERM: nothing was written by this rollback" in out + err
        assert f"deployment {kube.namespace}/web: it runs web={GOOD}, unchanged by us" in out + err
        assert live_image(kube) == GOOD
        assert _lease_holder(kube) == "github-run-7-1"  # someone else's lease is left alone


def test_a_signal_during_a_promote_records_no_lkg_and_says_what_runs(kube: KubeUnderTest, tmp_path: Path) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        edit_template(kube, cluster, annotations=slow(120))  # the promoted pods will be slow
    env = hotfix_env(kube, tmp_path, CONFIG, HOTFIX_TIMEOUT="300")
    with spawned(["promote", "-d", "web", "--image", GOOD3, "--fail-fast-after", "300"], env) as proc:
        kube.wait_for(lambda: live_image(kube) == GOOD3 or proc.poll() is not None, timeout=30)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    text = out + err
    assert proc.returncode == 143, text
    assert f"interrupted by SIGTERM: this promote wrote web={GOOD3} at " in text
    assert "no last-known-good recorded" in text
    dep = kube.get("apps/v1", "deployments", kube.namespace, "web")
    assert dep is not None and GOOD in dep["metadata"]["annotations"]["hotfix-actions.io/last-known-good"]
    assert GOOD3 not in dep["metadata"]["annotations"]["hotfix-actions.io/last-known-good"]
    assert _lease_holder(kube) == ""
