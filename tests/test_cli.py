from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from hotfix_actions import __version__
from hotfix_actions.cli import COMMANDS, cli


def test_help_lists_every_registered_command_and_only_those() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1].split()
    for name in COMMANDS:
        assert name in listed
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.output.strip() == f"hotfix {__version__}"


def test_help_imports_no_heavy_sdk() -> None:
    code = (
        "import sys\n"
        "from hotfix_actions.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'kubernetes', 'github', 'httpx', 'jsonschema'})\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("HEAVY []")


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["deploy-everything"])
    assert result.exit_code == 2
