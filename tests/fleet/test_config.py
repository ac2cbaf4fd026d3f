"""`.hotfix.yml` fleet: the schema, the rules it cannot hold (file:line, key, fix, in words), `hotfix fleet plan`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.config import load
from hotfix_actions.config.fleet import FleetConfig
from tests.conftest import read_outputs

GOOD = """\
version: 1
fleet:
  deployment: shop
  targets:
    eu-west:
      kubeconfig: {env: EU_WEST_KUBECONFIG_B64}
      namespace: shop
      prometheus_url: http://prometheus.eu-west:9090
      environment: production-eu-west
    eu-central: {kubeconfig: {file: /etc/kube/eu-central}, context: eu-central}
    us-east: {context: us-east, service: shop}
  waves:
    - {name: canary, targets: [eu-west], bake: 10m, environment: approve-canary}
    - {targets: [eu-central, us-east], bake: 1h30m, max_parallel: 1, canary: false}
"""


def test_a_fleet_reads_into_targets_and_waves(tmp_path: Path) -> None:
    path = tmp_path / ".hotfix.yml"
    path.write_text(GOOD)
    fleet = load(path, required=True).section(FleetConfig)
    assert fleet.targets["eu-west"].kubeconfig.env == "EU_WEST_KUBECONFIG_B64"
    assert fleet.targets["eu-central"].kubeconfig.file == "/etc/kube/eu-central"
    assert fleet.targets["us-east"].service == "shop"
    assert [fleet.wave_name(i) for i in range(2)] == ["canary", "wave-2"]
    assert fleet.waves[0].bake == 600 and fleet.waves[1].bake == 5400
    assert fleet.waves[1].max_parallel == 1 and fleet.waves[1].canary is False
    assert fleet.lock_prefix == "hotfix-fleet-"


BAD = [
    # (replace this, with this) -> (line, key, words in the message, words in the fix)
    (("targets: [eu-central, us-east]", "targets: [eu-centrl, us-east]"), 14, "fleet.waves.1.targets.0",
     "'eu-centrl' is not a target", "did you mean eu-central?"),
    (("targets: [eu-central, us-east]", "targets: [eu-central, eu-west]"), 14, "fleet.waves.1.targets.1",
     "target 'eu-west' is already in wave 1", "one wave"),
    (("targets: [eu-central, us-east]", "targets: [eu-central]"), 11, "fleet.targets.us-east",
     "target 'us-east' is in no wave", "add it to a wave"),
    (("{env: EU_WEST_KUBECONFIG_B64}", "{env: EU-WEST}"), 6, "fleet.targets.eu-west.kubeconfig.env",
     "is not an environment variable name", "EU_WEST_KUBECONFIG_B64"),
    (("{env: EU_WEST_KUBECONFIG_B64}", "{env: X, file: /k}"), 6, "fleet.targets.eu-west.kubeconfig",
     "has both env and file", "keep one"),
    (("  deployment: shop\n", ""), 4, "fleet.targets.eu-west", "names no deployment", "fleet.deployment"),
    (("{targets: [eu-central", "{name: canary, targets: [eu-central"), 14, "fleet.waves.1.name",
     "also the name of wave 1", "its own name"),
    (("bake: 1h30m", "bake: 90 m"), 14, "fleet.waves.1.bake", "is not a duration", "bake:"),
    (("max_parallel: 1", "max_parallel: 0"), 14, "fleet.waves.1.max_parallel", "less than 1", "max_parallel"),
    (("us-east: {context", "US_East: {context"), 11, "fleet.targets.US_East", "target name", "eu-west"),
    (("namespace: shop", "namespace: Shop"), 7, "fleet.targets.eu-west.namespace", "Shop", "namespace"),
    (("canary: false", "canery: false"), 14, "fleet.waves.1.canery", "unknown key", "did you mean canary?"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "line", "key", "words", "fix"), BAD)
def test_mistakes_name_file_line_key_and_fix(
    tmp_path: Path, edit: tuple[str, str], line: int, key: str, words: str, fix: str
) -> None:
    assert edit[0] in GOOD
    path = tmp_path / ".hotfix.yml"
    path.write_text(GOOD.replace(edit[0], edit[1], 1))
    result = CliRunner().invoke(cli, ["fleet", "plan", "--config", str(path)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{path}:{line}: key '{key}'" in text, text
    assert words in text and "fix: " in text and fix in text, text
    assert not re.search(r"\^\[|\[a-z|\\d|\{0,", text), "a message shows a regular expression"


def test_plan_gives_the_workflow_its_matrices(tmp_path: Path, gha: dict[str, Path]) -> None:
    path = tmp_path / ".hotfix.yml"
    path.write_text(GOOD)
    result = CliRunner().invoke(cli, ["fleet", "plan", "--config", str(path)])
    assert result.exit_code == 0, result.output
    out = read_outputs(gha["output"])
    assert out["waves"] == "2"
    assert json.loads(out["wave-1-targets"]) == [
        {"target": "eu-west", "environment": "production-eu-west", "wave": "canary"}
    ]
    assert [t["target"] for t in json.loads(out["wave-2-targets"])] == ["eu-central", "us-east"]
    assert json.loads(out["wave-2-targets"])[1]["environment"] == "us-east"  # default: the target's name
    assert out["wave-1-approval"] == "approve-canary" and out["wave-2-approval"] == ""
    assert len(json.loads(out["all-targets"])) == 3


def test_no_fleet_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / ".hotfix.yml"
    path.write_text("version: 1\n")
    result = CliRunner().invoke(cli, ["fleet", "promote", "--config", str(path), "--version", "1", "--image", "a:1"])
    assert result.exit_code == 2 and "no fleet is configured" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["promote", "--version", "1.1", "--image", "web:1.1;rm"], "--image"),
        (["promote", "--version", "1 1", "--image", "web:1.1"], "is not a version"),
        (["promote", "--version", "1.1", "--image", "web:1.1", "--target", "nowhere"], "not a target of the fleet"),
        (["promote", "--version", "1.1", "--image", "web:1.1", "--kubeconfig-data", "eA=="], "pass --target"),
        (["rollback", "--version", "1.1"], "go together"),
        (["rollback", "--version", "1.1", "--image", "web:1.1"], "--to before-run"),
    ],
)
def test_bad_input_exits_2_before_anything_connects(tmp_path: Path, args: list[str], words: str) -> None:
    path = tmp_path / ".hotfix.yml"
    path.write_text(GOOD)
    result = CliRunner().invoke(cli, ["fleet", *args, "--config", str(path)], env={"EU_WEST_KUBECONFIG_B64": ""})
    assert result.exit_code == 2, result.output
    assert words in result.output
