"""Exit codes follow 0 pass, 1 rejected, 2 usage or config error, 3 could not evaluate, in every command; and bad
input is refused before any network call.

Each command runs as a user runs it (`python -m hotfix_actions ...`, a real process). Servers that must not be
called are a recorder on 127.0.0.1 that counts every connection; servers that cannot be reached are a port that
was free a moment ago (nothing listens).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotfix_actions.cli import COMMANDS, cli
from hotfix_actions.errors import ExitCode
from tests.gitrepos import Repo, clone, make_project

SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Recorder:
    """A TCP listener on 127.0.0.1 that writes down every connection (and answers 503 to anything that talks)."""

    sock: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    connections: list[bytes] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                self.connections.append(data)
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.sock.close()

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    thread = threading.Thread(target=rec.serve, daemon=True)
    thread.start()
    yield rec
    rec.stop()
    thread.join(timeout=5)


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server}\n"
        "users:\n- name: u\n  user:\n    token: not-a-secret\n"
        "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n    namespace: default\n"
    )
    return path


@dataclass
class World:
    tmp: Path
    env: dict[str, str]

    def run(self, *args: str, cwd: Path | None = None, extra: dict[str, str] | None = None) -> tuple[int, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "hotfix_actions", *args],
            cwd=cwd or self.tmp,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def world(tmp_path: Path) -> World:
    fast = tmp_path / "fast.yml"  # an unreachable server is reported quickly
    fast.write_text(
        "cluster:\n  retries: 0\n  connect_timeout: 1s\n  request_timeout: 2s\n  api_deadline: 3s\n"
        "canary:\n  query_timeout: 2\n"
        "db:\n  connect_timeout_seconds: 2s\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTFIX_", "GITHUB_", "KUBECONFIG", "PG"))}
    env.update({"HOTFIX_CONFIG": str(fast), "HOME": str(tmp_path), "NO_COLOR": "1"})
    return World(tmp_path, env)


# -- bad input: exit 2 (or 1 for validate, whose verdict on a branch name is a rejection), and no connection ----


def bad_inputs(url: str, kube: str, db_url: str) -> list[tuple[list[str], int, str]]:
    """(arguments, exit code, words in the output); ``url`` is the recorder for HTTP, ``kube`` a kubeconfig at it."""
    k = ["--kubeconfig", kube]
    gh = ["--github-token", "t", "--github-repository", "acme/shop", "--github-api-url", url]
    return [
        (["promote", "-d", "web", "--image", "ghcr.io/Acme/shop:1.4.3", *k], 2, "has 'A' at position 9"),
        (["promote", "-d", "web", "--image", "shop:1.4.3", "-n", "Prod_NS", *k], 2, "has 'P' at position 1"),
        (["promote", "-d", "Web_App", "--image", "shop:1.4.3", *k], 2, "is not a DNS-1123 name"),
        (["promote", "-d", "web", "--image", "shop:1.4.3", "--timeout", "5x", *k], 2, "'x' is not a unit"),
        (["rollback", "-d", "web", "--to-image", "shop:1.4.3 ", *k], 2, "a space at position 11"),
        (["rollback", "-d", "web", "--grace-period", "5min", *k], 2, "write the unit 'min' as m"),
        (["rollback", "-d", "web", "--fail-fast-after=-5m", *k], 2, "is negative"),
        (["rollback", "-d", "web", "--timeout", "0", *k], 2, "must be more than 0"),
        (["rollback", "-d", "web", "--strategy", "undoo", *k], 2, "undoo"),
        (["canary", "-d", "web", "--image", "shop 1.4.3", "--prometheus-url", url, *k], 2, "a space at position 5"),
        (["canary", "-d", "web", "--interval", "0s", "--prometheus-url", url, *k], 2, "must be more than 0"),
        (["canary", "--image", "shop:1.4.3", "--prometheus-url", url, *k], 2, "--deployment"),
        (["monitor", "-d", "web", "--duration", "10x", "--prometheus-url", url, *k], 2, "'x' is not a unit"),
        (["monitor", "-d", "web", "-n", "a b", "--prometheus-url", url, *k], 2, "a space at position 2"),
        (["status", "-d", "UPPER", *k], 2, "is not a DNS-1123 name"),
        (["snapshot", "-d", "web;reboot", *k], 2, "has ';' at position 4"),
        (["drill", "-d", "web", "--bad-image", "Shop:bad", *k], 2, "has 'S' at position 1"),
        (["drill", "-d", "web", "--bad-image", "shop:bad", "--interval", "2 s", *k], 2, "a space at position 2"),
        (["deployment", "start", "--sha", SHA, "--image", "shop 1", *gh], 2, "a space at position 5"),
        (["deployment", "finish", "--state", "gone", *gh], 2, "gone"),
        (["postmortem", "--incident-id", "INC 42", *gh], 2, "is not an incident id"),
        (["db", "backup", "--database-url", db_url, "--keep", "-1"], 2, "-1"),
        (["db", "restore", "../etc/passwd", "--database-url", db_url], 2, "must be 1-128 letters"),
        (["db", "list", "--keep", "0"], 2, "0"),
        (["notify", "--event", "started", "--field", "no-equals-sign"], 2, "is not name=value"),
        (["notify", "--event", "nothing"], 2, "nothing"),
    ]


def test_bad_input_is_refused_before_any_connection(world: World, recorder: Recorder) -> None:
    kube = str(kubeconfig(world.tmp / "kubeconfig", recorder.url))
    db_url = f"postgresql://hotfix@127.0.0.1:{recorder.port}/shop"
    webhooks = {"HOTFIX_WEBHOOK_URL": recorder.url, "HOTFIX_SLACK_WEBHOOK_URL": recorder.url}
    failures = []
    for args, code, words in bad_inputs(recorder.url, kube, db_url):
        before = len(recorder.connections)
        got, output = world.run(*args, extra=webhooks)
        if got != code or words not in output or len(recorder.connections) != before:
            calls = len(recorder.connections) - before
            seen = "found" if words in output else "missing"
            failures.append(f"{args}: exit {got} (want {code}), {calls} connections, {words!r} {seen}\n{output[-600:]}")
    assert not failures, "\n\n".join(failures)
    assert recorder.connections == []


def test_git_commands_refuse_bad_input_before_the_remote(world: World, recorder: Recorder) -> None:
    _, work = make_project(world.tmp)
    work.git("remote", "set-url", "origin", f"{recorder.url}/acme/shop.git")
    cases: list[tuple[Sequence[str], int, str]] = [
        (["start", "Login_Crash", "--push"], 2, "has 'L' at position 1"),
        (["start", "login-crash", "--severity", "urgent"], 2, "urgent"),
        (["validate", "--branch", "hotfix/v1.0.1-x;rm -rf ~"], 1, "has ';' at position 16"),
        (["merge-back", "--branch", "feature/login"], 2, "does not start with 'hotfix/'"),
    ]
    for args, code, words in cases:
        got, output = world.run(*args, cwd=work.path)
        assert (got, words in output) == (code, True), f"{args}: exit {got}\n{output[-800:]}"
    assert recorder.connections == []


# -- a config that cannot be used: exit 2 in every command ----------------------------------------------------


def leaf_commands() -> list[list[str]]:
    """Every command a person can run, as argv without options (groups expanded)."""
    import click

    from hotfix_actions.cli import cli

    found: list[list[str]] = []
    ctx = click.Context(cli)
    for name in sorted(COMMANDS):
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += [[name, sub] for sub in sorted(command.commands) if name != "config" or sub != "schema"]
        else:
            found.append([name])
    return found


LEAVES = leaf_commands()


def test_the_list_of_commands_is_complete() -> None:
    assert ["drill"] in LEAVES and ["monitor"] in LEAVES and ["db", "restore"] in LEAVES
    assert len(LEAVES) >= 24


# the least each command needs to get past click (valid values: the config must be the first thing refused)
MINIMAL: dict[str, list[str]] = {
    "canary": ["-d", "web"],
    "db restore": ["shop-1"],
    "db verify": ["shop-1"],
    "deployment finish": ["--state", "success"],
    "deployment start": ["--sha", SHA, "--image", "shop:1"],
    "drill": ["--sandbox"],
    "fleet promote": ["--version", "1.4.3", "--image", "shop:1"],
    "fleet report": ["--results", "."],
    "monitor": ["-d", "web"],
    "notify": ["--event", "started"],
    "postmortem": ["--incident-id", "INC-1"],
    "promote": ["-d", "web", "--image", "shop:1"],
    "rollback": ["-d", "web"],
    "start": ["fix-x"],
    "status": ["-d", "web"],
}


@pytest.mark.parametrize("argv", LEAVES, ids=[" ".join(a) for a in LEAVES])
def test_a_missing_or_broken_config_exits_2_in_every_command(world: World, argv: list[str]) -> None:
    """Before anything else (a sandbox, a demo, a connection): `--config typo.yml` is never silently ignored."""
    argv = [*argv, *MINIMAL.get(" ".join(argv), [])]
    missing = world.tmp / "no-such.yml"
    code, output = world.run(*argv, "--config", str(missing))
    assert code == 2, output
    assert "no-such.yml" in output and "file not found" in output, output
    broken = world.tmp / "broken.yml"
    broken.write_text("rollback:\n  wait_timeout: 5 minutes\n")
    code, output = world.run(*argv, "--config", str(broken))
    assert code == 2, output
    assert "broken.yml:2" in output and "'5 minutes' is not a duration" in output, output


# -- a server that cannot be reached: exit 3 ------------------------------------------------------------------


def unreachable(kube: str, url: str, db_url: str) -> list[list[str]]:
    k = ["--kubeconfig", kube]
    gh = ["--github-token", "t", "--github-repository", "acme/shop", "--github-api-url", url]
    return [
        ["promote", "-d", "web", "--image", "shop:1.4.3", *k],
        ["rollback", "-d", "web", *k],
        ["status", "-d", "web", *k],
        ["snapshot", "-d", "web", *k],
        ["canary", "-d", "web", "--image", "shop:1.4.3", "--prometheus-url", url, *k],
        ["canary", "-d", "web", "--from", "-5m", "--prometheus-url", url],
        ["monitor", "-d", "web", "--prometheus-url", url, *k],
        ["drill", "-d", "web", "--bad-image", "shop:bad", *k],
        ["deployment", "start", "--sha", SHA, "--image", "shop:1.4.3", *gh],
        ["deployment", "finish", "--state", "success", "--sha", SHA, *gh],
        ["deployment", "last-successful", *gh],
        ["postmortem", "--incident-id", "INC-42", *gh],
        ["db", "backup", "--database-url", db_url],
    ]


def test_an_unreachable_server_exits_3(world: World) -> None:
    port = closed_port()
    kube = str(kubeconfig(world.tmp / "kubeconfig", f"http://127.0.0.1:{port}"))
    url = f"http://127.0.0.1:{port}"
    failures = []
    for args in unreachable(kube, url, f"postgresql://hotfix@127.0.0.1:{port}/shop"):
        code, output = world.run(*args)
        if code != 3:
            failures.append(f"{args}: exit {code}\n{output[-800:]}")
    assert not failures, "\n\n".join(failures)


def test_an_unreachable_git_remote_exits_3(world: World) -> None:
    origin, _ = make_project(world.tmp)
    dev: Repo = clone(origin, world.tmp / "dev", branch="main")
    dev.git("remote", "set-url", "origin", f"http://127.0.0.1:{closed_port()}/acme/shop.git")
    code, output = world.run("start", "login-crash", "--push", cwd=dev.path)
    assert code == 3, output
    assert not dev.git("branch", "--list", "hotfix/*")  # nothing half-done
    code, output = world.run("merge-back", "--branch", "hotfix/v1.0.1-login-crash", "--json", cwd=dev.path)
    assert code == 3, output


def test_every_exit_code_is_in_the_top_level_help_and_the_readme() -> None:
    """A user who scripts on the exit code finds every code a command can return where they look first."""
    help_text = " ".join(CliRunner().invoke(cli, ["--help"], terminal_width=200).output.split())
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split("```")[0].split())
    for code in ExitCode:
        if code is ExitCode.OK:
            continue
        assert f" {code.value} " in help_text, f"hotfix --help does not say what exit {code.value} means"
        assert f"`{code.value}`" in readme, f"the README's opening does not say what exit {code.value} means"
