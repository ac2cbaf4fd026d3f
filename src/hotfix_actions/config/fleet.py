"""`fleet:` one hotfix across many clusters: named targets and the waves they are promoted in.

A target is one Deployment in one cluster: where its kubeconfig comes from (an environment variable holding the
base64 of a kubeconfig, e.g. a CI secret, or a file; else the default kubeconfig), the context, the namespace, the
Prometheus of that cluster and, optionally, the blue/green Service. ``waves`` are promoted in order; each names its
targets, how long to watch them after the promote (``bake``) and how many of them to work on at once.

What the JSON Schema cannot say (a wave naming a target that does not exist, a target in two waves or in none, a
variable name) is checked by ``check`` with the file, the line and the key, like every schema error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from hotfix_actions.config._build import SectionConfig
from hotfix_actions.decide.names import dns1123_label_problem

__all__ = ["FleetConfig", "KubeconfigSource", "TargetConfig", "WaveConfig", "check", "fleet_problems"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


@dataclass(frozen=True)
class KubeconfigSource:
    """Where a target's kubeconfig comes from: ``env`` names a variable holding its base64 (a CI secret mapped into
    the job's environment), ``file`` a kubeconfig file; neither: KUBECONFIG, ~/.kube/config (then ``context``
    picks the cluster)."""

    env: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class TargetConfig:
    kubeconfig: KubeconfigSource = field(default_factory=KubeconfigSource)
    context: str | None = None
    namespace: str | None = None  # default: cluster.namespace, the context's, else default
    deployment: str | None = None  # default: fleet.deployment
    prometheus_url: str | None = None  # default: canary.prometheus_url
    service: str | None = None  # blue/green Service switched by a blue-green rollback
    environment: str | None = None  # GitHub environment holding this target's KUBECONFIG_B64 (default: the name)


@dataclass(frozen=True)
class WaveConfig:
    targets: tuple[str, ...]
    name: str | None = None  # default: wave-<n>
    bake: float = 600.0  # seconds of watching every target of the wave after its promote; 0: no watch
    max_parallel: int | None = None  # targets worked on at once (default: all of the wave)
    canary: bool = True  # run the canary gate before the promote in each target
    environment: str | None = None  # GitHub environment whose approval the workflow waits for before this wave


@dataclass(frozen=True)
class FleetConfig(SectionConfig):
    SECTION: ClassVar[str] = "fleet"

    deployment: str | None = None  # the Deployment in every target (a target may name its own)
    targets: Mapping[str, TargetConfig] = field(default_factory=lambda: MappingProxyType({}))
    waves: tuple[WaveConfig, ...] = ()
    bake_interval: float | None = None  # seconds between looks during a bake (default: canary.monitor.interval)
    lock_prefix: str = "hotfix-fleet-"  # Lease per target held for a whole fleet run: prefix + deployment

    def wave_name(self, index: int) -> str:
        return self.waves[index].name or f"wave-{index + 1}"


def _close(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


def fleet_problems(document: Mapping[str, Any]) -> list[tuple[list[str | int], str, str]]:
    """(key path, what is wrong, fix) for each rule the schema cannot hold, in the order of the file.

    ``document`` is the ``fleet`` mapping as written (already valid against the schema).
    """
    problems: list[tuple[list[str | int], str, str]] = []
    targets: Mapping[str, Any] = document.get("targets") or {}
    waves: list[Any] = list(document.get("waves") or [])
    names = list(targets)
    for name, target in targets.items():
        if problem := dns1123_label_problem(str(name)):
            problems.append((["fleet", "targets", name], f"target name {name!r} {problem}", "e.g. eu-west"))
        source = (target or {}).get("kubeconfig") or {}
        if source.get("env") is not None and source.get("file") is not None:
            problems.append((["fleet", "targets", name, "kubeconfig"], "has both env and file", "keep one of them"))
        env = source.get("env")
        if env is not None and not _ENV_NAME.fullmatch(str(env)):
            problems.append(
                (
                    ["fleet", "targets", name, "kubeconfig", "env"],
                    f"{str(env)[:60]!r} is not an environment variable name: letters, digits and '_', not "
                    "starting with a digit",
                    "e.g. env: EU_WEST_KUBECONFIG_B64",
                )
            )
        if not document.get("deployment") and not (target or {}).get("deployment"):
            problems.append(
                (
                    ["fleet", "targets", name],
                    "names no deployment and fleet.deployment is not set",
                    "set fleet.deployment (the Deployment in every target) or deployment: in this target",
                )
            )
    if targets and not waves:
        problems.append((["fleet"], "has targets but no waves", "add waves: [{targets: [" + names[0] + "]}]"))
    seen: dict[str, int] = {}
    wave_names: dict[str, int] = {}
    for w, wave in enumerate(waves):
        wave_name = str(wave.get("name") or f"wave-{w + 1}")
        if wave_name in wave_names:
            problems.append(
                (
                    ["fleet", "waves", w, "name"],
                    f"wave name {wave_name!r} is also the name of wave {wave_names[wave_name] + 1}",
                    "give each wave its own name",
                )
            )
        wave_names[wave_name] = w
        for t, name in enumerate(wave.get("targets") or []):
            where: list[str | int] = ["fleet", "waves", w, "targets", t]
            if name not in targets:
                known = ", ".join(names) or "none"
                problems.append((where, f"{name!r} is not a target", f"{_close(str(name), names)}targets are: {known}"))
            elif name in seen:
                problems.append(
                    (where, f"target {name!r} is already in wave {seen[name] + 1}", "put each target in one wave")
                )
            else:
                seen[name] = w
    for name in names:
        if waves and name not in seen:
            problems.append(
                (["fleet", "targets", name], f"target {name!r} is in no wave", "add it to a wave or remove it")
            )
    return problems


def check(path: str | None, document: Mapping[str, Any]) -> None:
    """Raise the first ``fleet_problems`` as a ConfigError naming the file, the line and the key."""
    from hotfix_actions.errors import ConfigError

    problems = fleet_problems(document.get("fleet") or {})
    if not problems:
        return
    where, message, fix = problems[0]
    line = None
    if path is not None:
        import yaml

        from hotfix_actions.config._limits import read_limited
        from hotfix_actions.config._yaml import _line_of

        try:
            root = yaml.compose(read_limited(Path(path), path), Loader=yaml.SafeLoader)
        except (yaml.YAMLError, ConfigError):
            root = None
        line, _ = _line_of(root, where)
    key = ".".join(str(p) for p in where)
    raise ConfigError(message, file=path or ".hotfix.yml", line=line, key=key, fix=fix)
