"""The HTTP face of the sandbox: routing, content negotiation (JSON, Table, aggregated discovery), faults, watches
and the ``/_sandbox/*`` control endpoints. Binds to 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from hotfix_actions.sandbox import discovery
from hotfix_actions.sandbox.api import PATCH_TYPES, Api
from hotfix_actions.sandbox.faults import Faults
from hotfix_actions.sandbox.listing import list_page
from hotfix_actions.sandbox.listopts import ListOptions, parse_list_options, query_bool
from hotfix_actions.sandbox.resources import Resource, by_plural
from hotfix_actions.sandbox.scale import get_scale, patch_scale, update_scale
from hotfix_actions.sandbox.status import ApiError, conflict, method_not_allowed, status_body
from hotfix_actions.sandbox.table import table
from hotfix_actions.sandbox.unserved import Unserved, unknown_params
from hotfix_actions.sandbox.watch import WatchRequest, encode, stream
from hotfix_actions.testing.http11 import KeepAliveHandler

__all__ = ["SandboxServer"]

Obj = dict[str, Any]
_log = logging.getLogger(__name__)
_JSON = "application/json"
_NOT_FOUND = "the server could not find the requested resource"


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port: int, api: Api, faults: Faults, control: Callable[[str, str, Any], Any]) -> None:
        self.api = api
        self.faults = faults
        self.control = control  # /_sandbox/<name> handler: (method, name, body) -> JSON answer
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.stopping = threading.Event()
        self.unserved = Unserved()
        super().__init__(("127.0.0.1", port), _Handler)

    def close_connections(self) -> None:
        self.stopping.set()
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Route:
    def __init__(self, res: Resource, namespace: str | None, name: str | None, sub: str | None) -> None:
        self.res, self.namespace, self.name, self.sub = res, namespace, name, sub


def _route(path: str) -> _Route:
    segs = [s for s in path.split("/") if s]
    if segs[0] == "api" and len(segs) >= 3:
        group, version, rest = "", segs[1], segs[2:]
    elif segs[0] == "apis" and len(segs) >= 4:
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        raise ApiError(404, _NOT_FOUND)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in {"status", "finalize"}):
        namespace, rest = rest[1], rest[2:]
    res = by_plural(group, version, rest[0])
    if res is None or len(rest) > 3 or (namespace is not None and not res.namespaced):
        raise ApiError(404, _NOT_FOUND)
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in res.subresources:
        raise ApiError(404, _NOT_FOUND)
    if res.namespaced and name is not None and namespace is None:
        raise ApiError(404, _NOT_FOUND)
    return _Route(res, namespace, name, sub)


class _Handler(KeepAliveHandler):
    server: SandboxServer
    server_version = "sandbox-apiserver"
    _pretty = False  # ?pretty=true: indented JSON, as upstream

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing -----------------------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, code: int, body: bytes, content_type: str = _JSON) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj: Any, content_type: str = _JSON) -> None:
        text = json.dumps(obj, indent=2) + "\n" if self._pretty else json.dumps(obj, separators=(",", ":"))
        self._send(code, text.encode(), content_type)

    def _unserved(self, what: str, detail: str) -> None:
        path = urlsplit(self.path).path
        self.server.unserved.add(self.command, path, what, detail, self.headers.get("User-Agent") or "")

    def _params(self, kind: str, query: dict[str, str]) -> None:
        """Record the query parameters upstream does not define for this kind of request (they are ignored)."""
        for name in unknown_params(kind, query):
            self._unserved("query parameter", f"{name}={query[name]} is not a {kind} parameter the sandbox serves")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self._pretty = query_bool(query.get("pretty"))
        try:
            raw = self._read_body()
            if path == "/_sandbox/unserved":
                record = self.server.unserved
                self._json(200, {"unserved": record.clear() if method == "DELETE" else record.entries()})
                return
            if path.startswith("/_sandbox/"):
                data = json.loads(raw) if raw.strip() else {}
                self._json(200, self.server.control(method, path[len("/_sandbox/") :], data))
                return
            pause = self.server.faults.take_delay()
            if pause:
                time.sleep(pause)
            failure = self.server.faults.take_failure(method, path)
            if failure is not None:
                reason = "ServiceUnavailable" if failure == 503 else "InternalError"
                message = (
                    "the server is currently unable to handle the request"
                    if failure == 503
                    else "Internal error occurred: injected by the sandbox fault knobs"
                )
                self._json(failure, status_body(failure, message, reason=reason))
                return
            self._dispatch(method, path, query, raw)
        except ApiError as exc:
            if exc.code in {405, 406, 415} or (exc.code == 404 and exc.message == _NOT_FOUND):
                self._unserved(f"HTTP {exc.code}", exc.message)
            self._json(exc.code, exc.body())
        except (ValueError, yaml.YAMLError) as exc:
            self._json(400, status_body(400, f"the request could not be decoded: {exc}", reason="BadRequest"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # the client gets a 500 Status, the sandbox keeps serving
            _log.exception("sandbox request failed: %s %s", method, self.path)
            self._json(500, status_body(500, f"Internal error occurred: {exc}", reason="InternalError"))

    # -- non-resource paths -------------------------------------------------------------------------------------
    def _dispatch(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        if path in {"/healthz", "/livez", "/readyz"}:
            self._params("health", query)
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        if method == "GET" and self._discovery(path, query):
            return
        self._check_accept()
        self._resource(method, _route(path), query, raw)

    def _check_accept(self) -> None:
        """Every answer is JSON: a client that accepts no JSON (protobuf or CBOR only) is not served."""
        ranges = discovery.accepts(self.headers.get("Accept"))
        if ranges and not any(m["type"] in {_JSON, "*/*", "application/*"} for m in ranges):
            self._unserved("Accept", f"answered with JSON, but the client accepts only {self.headers.get('Accept')}")

    def _discovery(self, path: str, query: dict[str, str]) -> bool:
        accept = discovery.accepts(self.headers.get("Accept"))
        kind = "openapi" if path.startswith("/openapi") else "version" if path == "/version" else "discovery"
        if path == "/version":
            self._json(200, discovery.version())
        elif path in {"/api", "/apis"}:
            legacy_core = path == "/api"
            for media in accept:
                if (
                    media.get("as") == "APIGroupDiscoveryList"
                    and media.get("g") == "apidiscovery.k8s.io"
                    and media.get("v") in {"v2", "v2beta1"}
                ):
                    v = media["v"]
                    ctype = f"application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
                    self._json(200, discovery.aggregated(legacy_core, v), ctype)
                    return True
            host = f"127.0.0.1:{self.server.server_address[1]}"
            self._json(200, discovery.api_versions(host) if legacy_core else discovery.api_group_list())
        elif path == "/openapi/v3":
            self._check_accept()
            self._json(200, discovery.openapi_index())
        elif path == "/openapi/v2":
            body, ctype = discovery.openapi_v2(accept)
            self._send(200, body, ctype)
        elif path.startswith("/openapi/"):
            doc = discovery.openapi_document(path[len("/openapi/v3/") :]) if path.startswith("/openapi/v3/") else None
            if doc is None:
                raise ApiError(404, _NOT_FOUND)
            self._check_accept()
            self._send(200, doc)
        else:
            segs = [s for s in path.split("/") if s]
            found: Obj | None = None
            if len(segs) == 2 and segs[0] == "api":
                found = discovery.api_resource_list("", segs[1])
            elif len(segs) == 3 and segs[0] == "apis":
                found = discovery.api_resource_list(segs[1], segs[2])
            elif len(segs) == 2 and segs[0] == "apis":
                found = discovery.api_group(segs[1])
            else:
                return False
            if found is None:
                raise ApiError(404, _NOT_FOUND)
            self._json(200, found)
        self._params(kind, query)
        return True

    # -- resources ----------------------------------------------------------------------------------------------
    def _body(self, raw: bytes) -> Any:
        ctype = (self.headers.get("Content-Type") or _JSON).split(";")[0].strip().lower()
        if "protobuf" in ctype:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{_JSON}, application/yaml, {', '.join(PATCH_TYPES)}",
            )
        if not raw.strip():
            return None
        if ctype in {"application/yaml", "application/apply-patch+yaml"}:
            return yaml.safe_load(raw)
        return json.loads(raw)

    def _table_version(self) -> str | None:
        for media in discovery.accepts(self.headers.get("Accept")):
            if media.get("as") == "Table" and media.get("g") == "meta.k8s.io" and media.get("v") in {"v1", "v1beta1"}:
                return media["v"]
            if media["type"] in {_JSON, "*/*", "application/*"} and "as" not in media:
                return None
        return None

    def _answer(
        self, code: int, route: _Route, obj: Obj, list_meta: Obj | None = None, include: str = "Metadata"
    ) -> None:
        version = self._table_version()
        if version is not None and route.sub is None:
            rows = obj["items"] if list_meta is not None else [obj]
            body = table(route.res, rows, None, include=include, version=version)
            if list_meta is not None:
                body["metadata"] = list_meta
            self._json(code, body, f"application/json;as=Table;v={version};g=meta.k8s.io")
        else:
            self._json(code, obj)

    @staticmethod
    def _kind(method: str, route: _Route, query: dict[str, str]) -> str:
        """The upstream verb of a resource request, which decides the query parameters it may carry."""
        watching = method == "GET" and query_bool(query.get("watch"))
        if route.name is None:
            verbs = {"GET": "watch" if watching else "list", "POST": "create", "DELETE": "deletecollection"}
        else:
            verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        return verbs.get(method, "get")

    def _resource(self, method: str, route: _Route, query: dict[str, str], raw: bytes) -> None:
        api, res, ns = self.server.api, route.res, route.namespace
        self._params(self._kind(method, route, query), query)
        dry = query.get("dryRun") == "All"
        if method in {"POST", "PUT", "PATCH", "DELETE"} and self.server.faults.take_conflict(method):
            raise conflict(res, route.name or "")
        if route.name is None:
            if method == "GET":
                opts = parse_list_options(query)
                if opts.watch:
                    self._watch(route, opts, query.get("includeObject", "Metadata"))
                    return
                match = api.matcher(res, opts.label_selector or None, opts.field_selector or None)
                page = list_page(api.store, res, ns, match, opts)
                meta = page.metadata()
                listing = {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                           "items": page.items}  # fmt: skip
                self._answer(200, route, listing, meta, query.get("includeObject", "Metadata"))
            elif method == "POST":
                self._answer(201, route, api.create(res, ns or "", self._body(raw), dry_run=dry))
            elif method == "DELETE":
                deleted = api.delete_collection(
                    res, ns, query.get("labelSelector"), query.get("fieldSelector"), self._body(raw)
                )
                self._json(
                    200,
                    {
                        "kind": f"{res.kind}List",
                        "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(api.store.resource_version)},
                        "items": deleted,
                    },
                )
            else:
                raise method_not_allowed()
            return
        name, sub = route.name, route.sub
        if sub == "scale":
            if method == "GET":
                self._json(200, get_scale(api, res, ns or "", name))
            elif method == "PUT":
                self._json(200, update_scale(api, res, ns or "", name, self._body(raw), dry_run=dry))
            elif method == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                self._json(200, patch_scale(api, res, ns or "", name, ctype, self._body(raw), dry_run=dry))
            else:
                raise method_not_allowed()
            return
        if method == "GET":
            self._answer(200, route, api.get(res, ns or "", name), None, query.get("includeObject", "Metadata"))
        elif method == "PUT":
            self._json(200, api.update(res, ns or "", name, self._body(raw), subresource=sub, dry_run=dry))
        elif method == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            body = self._body(raw)
            self._json(200, api.patch(res, ns or "", name, ctype, body, subresource=sub, dry_run=dry))
        elif method == "DELETE":
            options = self._body(raw) or {}
            for key in ("propagationPolicy", "gracePeriodSeconds"):
                if key in query:
                    options[key] = query[key]
            gone = api.delete(res, ns or "", name, options, dry_run=dry or options.get("dryRun") == ["All"])
            if res.kind in {"Pod", "Namespace"} or gone["metadata"].get("deletionTimestamp"):
                self._json(200, gone)
            else:
                details = {"name": name, "kind": res.plural, "uid": gone["metadata"].get("uid")}
                if res.group:
                    details["group"] = res.group
                self._json(
                    200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
                )
        else:
            raise method_not_allowed()

    def _watch(self, route: _Route, opts: ListOptions, include: str) -> None:
        """A chunked stream of events; asked for Tables (``kubectl get -w``), each object becomes a one-row Table
        and only the first carries the column definitions, as upstream saves bandwidth."""
        api = self.server.api
        version = self._table_version()
        columns_sent = False
        request = WatchRequest(
            namespace=route.namespace,
            match=api.matcher(route.res, opts.label_selector or None, opts.field_selector or None),
            since=opts.since,
            send_initial_events=opts.send_initial_events,
            allow_bookmarks=opts.allow_watch_bookmarks,
            timeout=float(opts.timeout_seconds) if opts.timeout_seconds else 1800.0,
            bookmark_every=api.settings.bookmark_every,
        )
        self.send_response(200)
        self.send_header("Content-Type", _JSON)  # a watch of Tables too, as kube-apiserver 1.37 answers
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

        def send(event: Obj) -> bool:
            nonlocal columns_sent
            if version is not None and event["type"] in {"ADDED", "MODIFIED", "DELETED"}:
                obj = event["object"]
                rows = table(
                    route.res, [obj], int(obj["metadata"]["resourceVersion"]), include=include, version=version
                )
                if columns_sent:
                    rows["columnDefinitions"] = None
                columns_sent = True
                event = {"type": event["type"], "object": rows}
            data = encode(event)
            try:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            except OSError:
                return False
            return True

        why = stream(api.store, self.server.faults, route.res, request, send, self.server.stopping.is_set)
        if why in {"dropped", "stopped", "gone"}:
            self.close_connection = True
            if why == "dropped":
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
