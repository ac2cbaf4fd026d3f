"""Three clusters at once on 127.0.0.1 for the fleet tests: each target is a cluster (a sandbox, or a namespace of
the real control plane reached with the tool's least-privilege service account), its own fake Prometheus reading
that cluster, and optionally a TCP proxy in front of its API server to make it unreachable.

Each target starts with Deployment ``web`` on ``GOOD`` promoted by ``hotfix promote`` (so it has a last-known-good),
and the `.hotfix.yml` written here names the targets, their kubeconfig files and Prometheus, and the waves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.decide.fleet import FLEET_ANNOTATION, FleetRecord
from hotfix_actions.decide.lkg import LkgRecord
from tests.clusters import KubeUnderTest, SandboxCluster
from tests.conftest import read_outputs
from tests.fleet.fakeprom import FakePrometheus
from tests.fleet.proxy import Proxy
from tests.kube.kubefix import deployment, start_sandbox

GOOD = "registry.example/web:1.0"
NEW = "registry.example/web:1.1"
NEWER = "registry.example/web:1.2"
VERSION = "1.1.0"


def _scrape() -> str:
    """The canary's scrape interval (the canary is read that much before the baseline) at 1 s, where the key exists."""
    from hotfix_actions.config import schema

    known = schema()["properties"]["canary"]["properties"]
    return ", scrape_interval: 1s" if "scrape_interval" in known else ""


BASE = """\
version: 1
cluster: {api_deadline: 3, retries: 2, backoff_initial: 0.02, backoff_max: 0.1, poll_interval: 0.05,
          fail_fast_after: 2, request_timeout: 3, connect_timeout: 1}
canary: {interval: 1s, duration: 6s, min_requests: 100, ready_timeout: 20s, monitor: {interval: 1s, duration: 3s},
         query_timeout: 2s__SCRAPE__}
promote: {wait_timeout: 30, settle_seconds: 0}
rollback:
  wait_timeout: 30
  lock: {ttl_seconds: 5, timeout_seconds: 30}
""".replace("__SCRAPE__", _scrape())


@dataclass
class Member:
    name: str
    kube: KubeUnderTest
    prom: FakePrometheus
    kubeconfig: Path
    proxy: Proxy | None = None
    errors: dict[tuple[str, str], float] = field(default_factory=dict)  # (deployment or *, image) -> error share

    @property
    def namespace(self) -> str:
        return self.kube.namespace

    def deployment(self) -> dict[str, Any]:
        found = self.kube.get("apps/v1", "deployments", self.namespace, "web")
        assert found is not None
        return found

    def image(self) -> str:
        return str(self.deployment()["spec"]["template"]["spec"]["containers"][0]["image"])

    def annotations(self) -> dict[str, str]:
        return dict(self.deployment()["metadata"].get("annotations") or {})

    def record(self) -> FleetRecord | None:
        return FleetRecord.from_annotations(self.annotations())

    def lkg(self) -> LkgRecord | None:
        return LkgRecord.from_annotations(self.annotations())

    def health(self, namespace: str, deployment: str, image: str) -> float:
        return self.errors.get((deployment, image), self.errors.get(("*", image), 0.0))


def image_reader(kube: KubeUnderTest) -> Any:
    def image_of(namespace: str, name: str) -> str:
        found = kube.get("apps/v1", "deployments", namespace, name)
        if not found or not int((found.get("spec") or {}).get("replicas", 1) or 0):
            return ""
        return str(found["spec"]["template"]["spec"]["containers"][0]["image"])

    return image_of


@dataclass
class Rig:
    folder: Path
    members: dict[str, Member]
    config: Path = field(init=False)
    summary: str = field(init=False, default="")  # the step summary of the last `hotfix` call

    def __post_init__(self) -> None:
        self.config = self.folder / ".hotfix.yml"

    def write_config(
        self,
        waves: Sequence[Sequence[str]] = (("a",), ("b",), ("c",)),
        *,
        bake: str = "2s",
        canary: bool = True,
        extra: str = "",
    ) -> None:
        targets = {
            m.name: {
                "kubeconfig": {"file": str(m.kubeconfig)},
                "namespace": m.namespace,
                "prometheus_url": m.prom.url,
            }
            for m in self.members.values()
        }
        fleet = {
            "deployment": "web",
            "targets": targets,
            "waves": [
                {"name": f"w{i + 1}", "targets": list(w), "bake": bake, "canary": canary} for i, w in enumerate(waves)
            ],
        }
        self.config.write_text(BASE + extra + yaml.safe_dump({"fleet": fleet}, sort_keys=False))

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTFIX_", "GITHUB_"))}
        env.update({"HOTFIX_CONFIG": str(self.config), "XDG_STATE_HOME": str(self.folder / "state")})
        env.update(more)
        return env

    def hotfix(self, *args: str, **env: str) -> tuple[int, str, dict[str, str]]:
        """The CLI in this process (click's runner); returns exit code, output and the GITHUB_OUTPUT values."""
        out = self.folder / f"out-{os.urandom(4).hex()}"
        out.write_text("")
        summary = out.with_suffix(".md")
        files = {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
        result = CliRunner().invoke(cli, list(args), env={**self.env(**env), **files})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.summary = summary.read_text() if summary.exists() else ""
        return result.exit_code, result.output, read_outputs(out)

    def spawn(self, *args: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
        """The CLI as its own process (to be killed by pid): `python -m hotfix_actions ...`, output to ``log``."""
        with log.open("wb") as fh:
            return subprocess.Popen(
                [sys.executable, "-m", "hotfix_actions", *args],
                env=self.env(**env),
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
            )

    def images(self) -> dict[str, str]:
        return {name: m.image() for name, m in self.members.items()}

    def phases(self) -> dict[str, str | None]:
        return {name: (r.phase.value if (r := m.record()) else None) for name, m in self.members.items()}


def seed(member: Member, rig_folder: Path) -> None:
    """Deployment web on GOOD, promoted by `hotfix promote` so it has a last-known-good."""
    member.kube.apply(deployment(image=GOOD, replicas=2, namespace=member.namespace))
    member.kube.wait_rollout(member.namespace, "web", timeout=30)
    config = rig_folder / "seed.yml"
    config.write_text(BASE)
    env = {"HOTFIX_CONFIG": str(config), "XDG_STATE_HOME": str(rig_folder / "state")}
    args = ["promote", "-d", "web", "--image", GOOD, "--kubeconfig", str(member.kubeconfig), "-n", member.namespace]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert member.lkg() is not None


def proxied_kubeconfig(source: Path, proxy: Proxy, target: Path) -> Path:
    doc = yaml.safe_load(source.read_text())
    for cluster in doc.get("clusters") or []:
        cluster["cluster"]["server"] = proxy.url
    target.write_text(yaml.safe_dump(doc))
    return target


@contextmanager
def real_member(name: str, cp: Any, folder: Path) -> Iterator[Member]:
    """A namespace of the real control plane, reached with the tool's least-privilege service account."""
    import secrets

    from tests.clusters import RealCluster

    kube = RealCluster(cp, f"fleet-{name}-{secrets.token_hex(3)}", folder)
    prom = FakePrometheus(image_reader(kube)).start()
    try:
        member = Member(name, kube, prom, kube.kubeconfig_path)
        prom.health = member.health
        yield member
    finally:
        prom.close()
        kube.cleanup()


@contextmanager
def sandbox_member(name: str, folder: Path, *, proxied: bool = False) -> Iterator[Member]:
    with ExitStack() as stack:
        sb = stack.enter_context(start_sandbox())
        kube = SandboxCluster(sb)
        prom = FakePrometheus(image_reader(kube)).start()
        stack.callback(prom.close)
        kubeconfig = sb.kubeconfig_path
        proxy = None
        if proxied:
            host, port = sb.url.removeprefix("http://").split(":")
            proxy = Proxy((host, int(port)))
            stack.callback(proxy.close)
            kubeconfig = proxied_kubeconfig(sb.kubeconfig_path, proxy, folder / f"kubeconfig-{name}")
        member = Member(name, kube, prom, kubeconfig, proxy)
        prom.health = member.health
        yield member


def fleet_annotation(member: Member) -> str:
    return member.annotations().get(FLEET_ANNOTATION, "")


def dump(rig: Rig) -> str:
    return json.dumps({n: {"image": m.image(), "record": fleet_annotation(m)} for n, m in rig.members.items()})


@dataclass(frozen=True)
class Seen:
    at: float
    target: str
    run: str
    phase: str
    image: str


class Timeline:
    """Polls every target's fleet record and image every 20 ms from a thread, keeping each change: the order in
    which targets moved, as the clusters showed it."""

    def __init__(self, rig: Rig) -> None:
        import threading

        self.rig = rig
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Timeline:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        import time

        last: dict[str, tuple[str, str, str]] = {}
        while not self._stop.is_set():
            for name, member in self.rig.members.items():
                try:
                    record, image = member.record(), member.image()
                except Exception:  # a cluster cut off on purpose
                    continue
                state = (record.run if record else "", record.phase.value if record else "", image)
                if last.get(name) != state:
                    last[name] = state
                    self.seen.append(Seen(time.monotonic(), name, *state))
            self._stop.wait(0.02)

    def first(self, target: str, phase: str, run: str | None = None) -> float | None:
        return next(
            (s.at for s in self.seen if s.target == target and s.phase == phase and (run is None or s.run == run)),
            None,
        )

    def wait_for(self, target: str, phase: str, timeout: float = 60.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while self.first(target, phase) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target} never reached {phase}: {self.seen}")
            time.sleep(0.02)
