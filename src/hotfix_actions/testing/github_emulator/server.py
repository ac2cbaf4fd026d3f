"""The emulator's HTTP server: REST under ``/api/v3`` (like GitHub Enterprise Server), GraphQL at ``/api/graphql``
(only the auto-merge mutation), and git smart HTTP at ``/<owner>/<repo>.git`` through ``git http-backend``.

Every request is recorded. REST requests are checked against the OpenAPI description first; one that does not
conform is answered as GitHub would (404, 400 or 422) and its problems are added to ``violations``.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hotfix_actions.testing.github_emulator import api_git, api_issues, api_releases
from hotfix_actions.testing.github_emulator.api_base import Ctx, Reply
from hotfix_actions.testing.github_emulator.faults import Fault
from hotfix_actions.testing.github_emulator.openapi import Spec
from hotfix_actions.testing.github_emulator.state import EmulatorState
from hotfix_actions.testing.http11 import KeepAliveHandler

__all__ = ["HANDLERS", "Recorded", "Server"]

HANDLERS: dict[str, Callable[[Ctx], Reply]] = {**api_git.HANDLERS, **api_issues.HANDLERS, **api_releases.HANDLERS}
_GIT_PATH = re.compile(r"^/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+?)\.git(?P<rest>/.*)$")
_AUTOMERGE = re.compile(r"^\s*mutation\b[^{]*\{\s*enablePullRequestAutoMerge\s*\(\s*input\s*:\s*\$input\s*\)")
_AUTOMERGE_INPUT = {
    "pullRequestId",
    "mergeMethod",
    "authorEmail",
    "clientMutationId",
    "commitBody",
    "commitHeadline",
    "expectedHeadOid",
}


@dataclass(frozen=True)
class Recorded:
    """One request as the emulator saw it, and what it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    operation_id: str | None
    status: int
    problems: tuple[str, ...] = ()
    fault: str | None = None


@dataclass
class Server:
    """Owns the state, the faults and the record; ``serve`` answers one parsed request."""

    state: EmulatorState
    spec: Spec | None
    tokens: set[str]
    actor: str
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _token_ok(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                value = base64.b64decode(value).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                return False
        elif scheme.lower() not in ("token", "bearer"):
            return False
        return value in self.tokens

    def _fault_for(self, method: str, operation_id: str | None, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, operation_id, path):
                    fault.hits += 1
                    return fault
        return None

    def _record(self, entry: Recorded) -> None:
        with self.lock:
            self.requests.append(entry)
            self.violations.extend(entry.problems)

    def serve_rest(self, method: str, target: str, headers: dict[str, str], raw: bytes, base: str) -> Reply:
        split = urlsplit(target)
        path = split.path.removeprefix("/api/v3")
        query = parse_qs(split.query, keep_blank_values=True)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")

        def done(
            reply: Reply, op: str | None = None, problems: tuple[str, ...] = (), fault: str | None = None
        ) -> Reply:
            self._record(Recorded(method, path, query, headers, body, op, reply.status, problems, fault))
            return reply

        if not self._token_ok(headers.get("authorization", "")):
            return done(Reply(401, {"message": "Bad credentials", "status": "401"}))
        check = (
            self.spec.check(method, path, query, raw or None, headers.get("content-type", "")) if self.spec else None
        )
        op_id = check.operation.operation_id if check and check.operation else None
        fault = self._fault_for(method, op_id, path)
        if fault is not None:
            return done(fault.reply(), op_id, fault=fault.kind)
        if check is not None and check.problems:
            message = "Invalid request.\n\n" + "\n".join(check.problems)
            return done(Reply(check.status, {"message": message, "status": str(check.status)}), op_id, check.problems)
        if check is None or check.operation is None:
            return done(Reply(501, {"message": "the emulator runs with validation off and cannot route"}))
        assert op_id is not None
        handler = HANDLERS.get(op_id)
        if handler is None:
            problem = f"{op_id}: not implemented by the emulator"
            return done(Reply(501, {"message": problem, "status": "501"}), op_id, (problem,))
        repo = self.state.repo(check.params.get("owner", ""), check.params.get("repo", ""))
        if repo is None:
            return done(Reply(404, {"message": "Not Found", "status": "404"}), op_id)
        ctx = Ctx(self.state, repo, check.params, query, body, self.actor, base + "/api/v3" + path)
        try:
            with self.state.lock:
                reply = handler(ctx)
        except Exception as exc:  # an emulator bug must fail the test, not hang it
            problem = f"{op_id}: emulator error {type(exc).__name__}: {exc}"
            return done(Reply(500, {"message": problem}), op_id, (problem,))
        if str(reply.status) not in check.operation.raw.get("responses", {}):
            self.violations.append(f"{op_id}: the emulator answered {reply.status}, which the description lacks")
        return done(reply, op_id)

    def serve_graphql(self, headers: dict[str, str], raw: bytes) -> Reply:
        def done(reply: Reply, problems: tuple[str, ...] = (), fault: str | None = None) -> Reply:
            self._record(Recorded("POST", "/graphql", {}, headers, body, "graphql", reply.status, problems, fault))
            return reply

        body: Any = None
        try:
            body = json.loads(raw)
        except ValueError:
            return done(Reply(400, {"message": "Problems parsing JSON"}), ("graphql: body is not JSON",))
        if not self._token_ok(headers.get("authorization", "")):
            return done(Reply(401, {"message": "Bad credentials"}))
        fault = self._fault_for("POST", "graphql", "/graphql")
        if fault is not None:
            return done(fault.reply(), fault=fault.kind)
        query, variables = body.get("query", ""), body.get("variables") or {}
        given = (variables.get("input") or {}) if isinstance(variables, dict) else {}
        problems = []
        if not _AUTOMERGE.match(query):
            problems.append("graphql: only the enablePullRequestAutoMerge mutation is emulated")
        if set(given) - _AUTOMERGE_INPUT or not isinstance(given.get("pullRequestId"), str):
            problems.append(f"graphql: bad EnablePullRequestAutoMergeInput {sorted(given)}")
        if given.get("mergeMethod", "MERGE") not in ("MERGE", "SQUASH", "REBASE"):
            problems.append(f"graphql: mergeMethod {given.get('mergeMethod')!r} is not MERGE, SQUASH or REBASE")
        if problems:
            errors = [{"message": p, "type": "INVALID"} for p in problems]
            return done(Reply(200, {"errors": errors}), tuple(problems))
        with self.state.lock:
            for repo in self.state.repos.values():
                for number, pr in repo.pulls.items():
                    if pr["node_id"] == given["pullRequestId"]:
                        repo.auto_merge[number] = {"merge_method": given.get("mergeMethod", "MERGE").lower()}
                        data = {"actor": {"login": self.actor}, "clientMutationId": given.get("clientMutationId")}
                        return done(Reply(200, {"data": {"enablePullRequestAutoMerge": data}}))
        missing = {
            "type": "NOT_FOUND",
            "message": f"Could not resolve to a node with the global id of '{given['pullRequestId']}'",
        }
        return done(Reply(200, {"errors": [missing]}))

    def serve_git(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        m = _GIT_PATH.match(split.path)
        repo = self.state.repo(m.group("owner"), m.group("repo")) if m else None

        def done(status: int, hdrs: dict[str, str], payload: bytes) -> tuple[int, dict[str, str], bytes]:
            self._record(Recorded(method, split.path, parse_qs(split.query), headers, None, "git", status))
            return status, hdrs, payload

        if m is None or repo is None or repo.git is None:
            return done(404, {"Content-Type": "text/plain"}, b"Repository not found.\n")
        if not self._token_ok(headers.get("authorization", "")):
            return done(401, {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"}, b"")
        bare = repo.git.path
        env = {
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "GIT_PROJECT_ROOT": str(bare.parent),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{bare.name}{m.group('rest')}",
            "REQUEST_METHOD": method,
            "QUERY_STRING": split.query,
            "CONTENT_TYPE": headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(raw)),
            "REMOTE_USER": self.actor,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": headers.get("git-protocol", ""),
            "HTTP_CONTENT_ENCODING": headers.get("content-encoding", ""),
        }
        proc = subprocess.run(
            ["git", "http-backend"], input=raw, capture_output=True, env=env, timeout=120, check=False
        )
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, out_headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                out_headers[name.strip()] = value.strip()
        return done(status, out_headers, payload)


def make_handler(server: Server, base_url: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        server_version = "GitHubEmulator/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: everything is in server.requests
            return

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _handle(self) -> None:
            raw = self._body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = urlsplit(self.path).path
            if _GIT_PATH.match(path):
                self._send(*server.serve_git(self.command, self.path, headers, raw))
                return
            if path == "/api/graphql" and self.command == "POST":
                reply = server.serve_graphql(headers, raw)
            else:
                reply = server.serve_rest(self.command, self.path, headers, raw, base_url())
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            out = {
                "Content-Type": "application/json; charset=utf-8",
                "X-GitHub-Api-Version-Selected": "2022-11-28",
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "4999",
                "X-RateLimit-Used": "1",
                "X-RateLimit-Resource": "core",
                "X-RateLimit-Reset": "4102444800",
                **reply.headers,
            }
            self._send(reply.status, out, payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    return Handler


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is not an error
            super().handle_error(request, client_address)


def serve_forever(server: Server, host: str, port: int) -> tuple[ThreadingHTTPServer, threading.Thread]:
    urls: list[str] = []
    httpd = _Quiet((host, port), make_handler(server, lambda: urls[0]))
    httpd.daemon_threads = True
    urls.append(f"http://{host}:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="github-emulator", daemon=True)
    thread.start()
    return httpd, thread
