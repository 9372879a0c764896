"""A small HTTP server that stands in for Grafana's HTTP API in the tests (no Grafana server
installs on these machines): the endpoints ``dossier dashboards publish`` uses, with state
kept in memory, and a record of every request grafana-client sends."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PLUGIN = "grafana-clickhouse-datasource"


@dataclass
class Request:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class FakeGrafana:
    """What the fake holds: accepted token, installed plugins, stored objects, requests."""

    token: str = "good-token"
    plugins: list[str] = field(default_factory=lambda: [PLUGIN])
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/api/frontend/settings", lambda: (200, {"buildInfo": {
                "version": "12.1.1"}})),
            ("GET", r"/api/plugins", lambda: (200, [{"id": p, "type": "datasource"}
                                                     for p in self.plugins])),
            ("GET", r"/api/datasources/uid/(?P<uid>[\w-]+)",
             lambda uid: self._get(self.datasources, uid)),
            ("POST", r"/api/datasources", lambda: self._put_datasource(body["uid"], body)),
            ("PUT", r"/api/datasources/uid/(?P<uid>[\w-]+)",
             lambda uid: self._put_datasource(uid, body)),
            ("GET", r"/api/folders/(?P<uid>[\w-]+)", lambda uid: self._get(self.folders, uid)),
            ("POST", r"/api/folders", lambda: self._store(self.folders, body["uid"], body)),
            ("PUT", r"/api/folders/(?P<uid>[\w-]+)",
             lambda uid: self._store(self.folders, uid, body | {"uid": uid})),
            ("GET", r"/api/dashboards/uid/(?P<uid>[\w-]+)", self._get_dashboard),
            ("POST", r"/api/dashboards/db", lambda: self._put_dashboard(body)),
            ("GET", r"/api/v1/provisioning/alert-rules/(?P<uid>[\w-]+)",
             lambda uid: self._get(self.rules, uid)),
            ("POST", r"/api/v1/provisioning/alert-rules",
             lambda: self._store(self.rules, body["uid"], body | {"provenance": "api"}, 201)),
            ("PUT", r"/api/v1/provisioning/alert-rules/(?P<uid>[\w-]+)",
             lambda uid: self._store(self.rules, uid, body | {"provenance": "api"})),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and method == route_method:
                result: tuple[int, Any] = handler(**match.groupdict())
                return result
        return 404, {"message": "Not found"}

    def _get(self, store: dict[str, dict[str, Any]], uid: str) -> tuple[int, Any]:
        if uid not in store:
            return 404, {"message": "not found"}
        return 200, store[uid]

    def _store(self, store: dict[str, dict[str, Any]], uid: str, body: dict[str, Any],
               status: int = 200) -> tuple[int, Any]:
        store[uid] = dict(body) | {"id": len(store) + 1}
        return status, store[uid]

    def _put_datasource(self, uid: str, body: dict[str, Any]) -> tuple[int, Any]:
        stored = {k: v for k, v in body.items() if k != "secureJsonData"}
        stored["secureJsonFields"] = {k: True for k in body.get("secureJsonData", {})}
        self.datasources[uid] = stored | {"id": 1, "readOnly": False}
        return 200, {"datasource": self.datasources[uid], "message": "Datasource saved"}

    def _get_dashboard(self, uid: str) -> tuple[int, Any]:
        if uid not in self.dashboards:
            return 404, {"message": "Dashboard not found"}
        return 200, self.dashboards[uid]

    def _put_dashboard(self, body: dict[str, Any]) -> tuple[int, Any]:
        dashboard = body["dashboard"]
        old = self.dashboards.get(dashboard["uid"])
        version = (old["dashboard"]["version"] + 1) if old else 1
        self.dashboards[dashboard["uid"]] = {
            "dashboard": dashboard | {"id": 7, "version": version},
            "meta": {"folderUid": body.get("folderUid"), "version": version}}
        return 200, {"status": "success", "uid": dashboard["uid"], "version": version}


def _handler(fake: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = self.path.split("?", 1)[0]
            auth = self.headers.get("Authorization")
            fake.requests.append(Request(self.command, self.path, body, auth))
            if auth != f"Bearer {fake.token}":
                status, answer = 401, {"message": "invalid API key"}
            else:
                status, answer = fake.answer(self.command, path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


@contextmanager
def running(fake: FakeGrafana | None = None) -> Iterator[FakeGrafana]:
    """A fake Grafana on a free loopback port for the duration of the block."""
    fake = fake or FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
