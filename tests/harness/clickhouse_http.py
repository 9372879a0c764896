"""ClickHouse's HTTP interface over the chDB engine, enough of it for clickhouse-connect: a
test stand-in for a ClickHouse server (none installs here), not a product.

    python -m tests.harness.clickhouse_http --port 8123 --path DIR

One chDB engine on DIR, one lock around every call into it; each ``session_id`` gets a chDB
connection of its own (its ``USE`` and ``SET`` last as long as the session); settings given
as URL parameters hold for their query only, as on a server.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HTTP_ONLY = frozenset({
    "query", "database", "default_format", "session_id", "session_timeout", "session_check",
    "query_id", "quota_key", "user", "password", "role", "buffer_size", "wait_end_of_query",
    "compress", "decompress", "client_protocol_version", "enable_http_compression",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms",
})
"""URL parameters the HTTP layer reads itself; every other one (``param_*`` aside) is a
setting for the query."""

# What a server answers with for an error, by the error's name (ClickHouse's
# exceptionCodeToHTTPStatus); 500 for the others.
STATUS_BY_ERROR = {
    **dict.fromkeys(("SYNTAX_ERROR", "BAD_ARGUMENTS", "INCORRECT_DATA", "TYPE_MISMATCH",
                     "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "TOO_DEEP_AST",
                     "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE"), 400),
    **dict.fromkeys(("UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE",
                     "UNKNOWN_STORAGE", "UNKNOWN_DATABASE", "UNKNOWN_SETTING",
                     "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION",
                     "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY"), 404),
    "QUERY_IS_TOO_LARGE": 413, "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503, "CANNOT_OPEN_FILE": 503,
}
CONTENT_TYPES = {"TabSeparated": "text/tab-separated-values; charset=UTF-8",
                 "JSON": "application/json; charset=UTF-8",
                 "JSONEachRow": "application/x-ndjson; charset=UTF-8"}
RESULT_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK")

_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*\Z", re.I)
# An INSERT whose data follows its text: the data starts after the format's name, past the
# first newline (or all the blanks) there. No quote before FORMAT: VALUES are not data.
_INSERT_WITH_DATA = re.compile(rb"\A\s*INSERT\s+INTO\s+([^'\0]*?)\s*\bFORMAT\s+(\w+)[ \t\r]*\n?",
                               re.I)
_SETTING_NAME = re.compile(r"\A[A-Za-z_]\w*\Z")
_ERROR_CODE = re.compile(r"\ACode: (\d+)")
_ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")


class EngineError(Exception):
    """A ClickHouse exception: its code, its name and its text as a server words it."""

    def __init__(self, code: int, name: str, message: str) -> None:
        self.code, self.name = code, name
        self.text = message if message.startswith("Code: ") else (
            f"Code: {code}. DB::Exception: {message} ({name})")
        super().__init__(self.text)

    @classmethod
    def from_engine(cls, error: Exception) -> EngineError:
        text = str(error)
        text = text[text.index("Code: "):].strip() if "Code: " in text else text.strip()
        code, names = _ERROR_CODE.search(text), _ERROR_NAME.findall(text)
        return cls(int(code.group(1)) if code else 1001, names[-1] if names else "STD_EXCEPTION",
                   text)

    @property
    def status(self) -> int:
        if self.name.startswith("CANNOT_PARSE_"):
            return 400
        return STATUS_BY_ERROR.get(self.name, 500)


@dataclass
class Query:
    """One request's statement (and INSERT data), as the HTTP layer read it."""

    text: bytes
    params: dict[str, str] = field(default_factory=dict)  # {name:Type} values
    settings: dict[str, str] = field(default_factory=dict)
    database: str | None = None
    default_format: str = "TabSeparated"
    session_id: str | None = None
    session_timeout: float = 60.0
    session_check: bool = False


@dataclass
class Result:
    """What the engine gave back: the body, the summary header's figures, the format."""

    body: bytes
    summary: dict[str, str]
    format: str | None  # the output format of a statement that returns a result


@dataclass
class Session:
    """A ``session_id``'s chDB connection, closed when idle longer than its timeout."""

    connection: Any
    timeout: float
    used: float = field(default_factory=time.monotonic)
    busy: threading.Lock = field(default_factory=threading.Lock)


class Engine:
    """The chDB engine on one directory: its sessions, and one lock around every call."""

    def __init__(self, path: Path) -> None:
        import chdb

        path.mkdir(parents=True, exist_ok=True)
        self._connect: Callable[[], Any] = lambda: chdb.connect(str(path.resolve()))
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._spool = tempfile.TemporaryDirectory(prefix="clickhouse-http-")
        self._main = self._connect()  # holds the engine open between requests
        row = self._main.query("SELECT version(), timezone()", "TabSeparated").bytes()
        self.version, self.timezone = row.decode().rstrip("\n").split("\t")

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.connection.close()
            self._sessions.clear()
            self._main.close()
        self._spool.cleanup()

    def execute(self, query: Query) -> Result:
        with (self._connection(query) as connection, self._lock,
              self._database(connection, query.database),
              self._settings(connection, query.settings)):
            return self._run(connection, query)

    @contextmanager
    def _connection(self, query: Query) -> Iterator[Any]:
        """The session's connection (locked: one query at a time per session, as on a
        server), or a connection of the request's own."""
        if query.session_id is None:
            with self._lock:
                connection = self._connect()
            try:
                yield connection
            finally:
                with self._lock:
                    connection.close()
            return
        session = self._session(query)
        if not session.busy.acquire(blocking=False):
            raise EngineError(373, "SESSION_IS_LOCKED", f"Session {query.session_id} is locked "
                              "by a concurrent client.")
        try:
            yield session.connection
        finally:
            session.used = time.monotonic()
            session.busy.release()

    def _session(self, query: Query) -> Session:
        assert query.session_id is not None
        with self._lock:
            now = time.monotonic()
            for key, old in list(self._sessions.items()):
                if now - old.used > old.timeout and not old.busy.locked():
                    old.connection.close()
                    del self._sessions[key]
            session = self._sessions.get(query.session_id)
            if session is None:
                if query.session_check:
                    raise EngineError(372, "SESSION_NOT_FOUND",
                                      f"Session {query.session_id} not found.")
                session = self._sessions[query.session_id] = Session(
                    self._connect(), query.session_timeout)
            session.timeout = query.session_timeout
            return session

    @contextmanager
    def _database(self, connection: Any, database: str | None) -> Iterator[None]:
        """``database`` current for this query only (a session keeps its own)."""
        if not database:
            yield
            return
        before = _call(connection, "SELECT currentDatabase()").bytes().decode().strip()
        _call(connection, f"USE {_identifier(database)}")
        try:
            yield
        finally:
            _call(connection, f"USE {_identifier(before)}")

    @contextmanager
    def _settings(self, connection: Any, settings: dict[str, str]) -> Iterator[None]:
        """The URL's settings for this query only: set, then put back as they were."""
        if not settings:
            yield
            return
        for name in settings:
            if not _SETTING_NAME.match(name):
                raise EngineError(36, "BAD_ARGUMENTS", f"Invalid setting name {name!r}.")
        names = ", ".join(_literal(name) for name in settings)
        rows = _call(connection, "SELECT name, value, changed FROM system.settings "
                     f"WHERE name IN ({names})", "JSONEachRow").bytes().splitlines()
        before = [json.loads(row) for row in rows]
        _call(connection, "SET " + ", ".join(f"{name} = {_literal(value)}"
                                             for name, value in settings.items()))
        try:
            yield
        finally:
            if before:
                _call(connection, "SET " + ", ".join(
                    f"{row['name']} = {_setting_value(row['value'])}" if row["changed"]
                    else f"{row['name']} = DEFAULT" for row in before))

    def _run(self, connection: Any, query: Query) -> Result:
        insert = _INSERT_WITH_DATA.match(query.text)
        if insert:
            # The data goes to the engine as a file: its statement text cannot carry bytes.
            target, data_format = insert.group(1).decode(), insert.group(2).decode()
            spooled = Path(self._spool.name) / f"{uuid.uuid4().hex}.data"
            spooled.write_bytes(query.text[insert.end():])
            try:
                result = _call(connection, f"INSERT INTO {target} FROM INFILE "
                               f"{_literal(str(spooled))} FORMAT {data_format}",
                               params=query.params)
            finally:
                spooled.unlink()
            return Result(b"", _summary(result), None)
        sql = query.text.decode()
        named = _TRAILING_FORMAT.search(sql)
        output = named.group(1) if named else query.default_format
        result = _call(connection, sql, output, query.params)
        returns = _COMMENTS.sub("", sql, count=1).lstrip("(").split(None, 1)
        kind = returns[0].upper() if returns else ""
        return Result(result.bytes() or b"", _summary(result),
                      output if kind in RESULT_STATEMENTS else None)


def _call(connection: Any, sql: str, output: str = "TabSeparated",
          params: dict[str, str] | None = None) -> Any:
    try:
        return connection.query(sql, output, params=params or {})
    except RuntimeError as error:
        raise EngineError.from_engine(error) from None


def _summary(result: Any) -> dict[str, str]:
    return {"read_rows": str(result.rows_read()), "read_bytes": str(result.bytes_read()),
            "written_rows": str(result.rows_written()),
            "written_bytes": str(result.bytes_written()),
            "total_rows_to_read": str(result.rows_read()),
            "elapsed_ns": str(int(result.elapsed() * 1e9))}


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _setting_value(value: str) -> str:
    # system.settings shows an expression value quoted already ('auto(4)')
    quoted = len(value) >= 2 and value[0] == value[-1] == "'"
    return value if quoted else _literal(value)


# -- the HTTP side ----------------------------------------------------------------------------

def decompress(data: bytes, encoding: str) -> bytes:
    """A request body as sent with Content-Encoding ``encoding``."""
    try:
        return _decompress(data, encoding)
    except EngineError:
        raise
    except Exception as error:  # each library has its own error for a damaged stream
        raise EngineError(271, "CANNOT_DECOMPRESS",
                          f"Cannot decompress the {encoding} request body: {error}.") from None


def _decompress(data: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "zstd":
        from backports import zstd

        return zstd.decompress(data)  # every frame, one after the other
    if encoding == "lz4":
        import lz4.frame

        out = []
        while data:  # clickhouse-connect sends one frame per block
            decompressor = lz4.frame.LZ4FrameDecompressor()
            out.append(decompressor.decompress(data))
            data = decompressor.unused_data
        return b"".join(out)
    raise EngineError(36, "BAD_ARGUMENTS", f"Unknown HTTP content encoding {encoding!r}.")


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=1)
    if encoding == "deflate":
        return zlib.compress(data, 1)
    if encoding == "zstd":
        from backports import zstd

        return zstd.compress(data)
    import lz4.frame

    return lz4.frame.compress(data)


RESPONSE_ENCODINGS = ("lz4", "zstd", "gzip", "deflate")


class Handler(BaseHTTPRequestHandler):
    """One HTTP request: ``/ping``, or a query by GET or POST."""

    protocol_version = "HTTP/1.1"  # keep-alive, as clickhouse-connect's pool expects
    server: Server

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def answer(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            body = decompress(self.read_body(), self.headers.get("Content-Encoding", ""))
            if self.headers.get_content_type() == "multipart/form-data":
                params |= self.form_fields(body)
                body = b""
            text = (params["query"].encode() + b"\n" if params.get("query") else b"") + body
            if url.path == "/ping" or (url.path == "/" and not text.strip()):
                self.send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            if url.path != "/":
                self.send(404, f"There is no handle {url.path}: use / or /ping.\n".encode(),
                          {"Content-Type": "text/plain; charset=UTF-8"})
                return
            result = self.server.engine.execute(read_query(text, params))
        except Exception as caught:
            error = caught if isinstance(caught, EngineError) else EngineError(
                1001, "STD_EXCEPTION", f"{type(caught).__name__}: {caught}")
            message = f"{error.text} (version {self.server.engine.version})\n".encode()
            self.send(error.status, message, {
                "Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Exception-Code": str(error.code)})
            return
        headers = {"X-ClickHouse-Query-Id": query_id,
                   "X-ClickHouse-Summary": json.dumps(result.summary),
                   "Content-Type": CONTENT_TYPES.get(result.format or "",
                                                     "application/octet-stream")}
        if result.format:
            headers["X-ClickHouse-Format"] = result.format
            headers["X-ClickHouse-Timezone"] = self.server.engine.timezone
        body, encoding = result.body, self.response_encoding(params)
        if encoding:
            body, headers["Content-Encoding"] = compress(body, encoding), encoding
        self.send(200, body, headers)

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers
            pass
        return b"".join(chunks)

    def form_fields(self, body: bytes) -> dict[str, str]:
        """The text fields of a multipart form (clickhouse-connect sends long query
        parameters this way); external data (file fields) is not supported."""
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        fields = {}
        for part in BytesParser().parsebytes(head + body).walk():
            if part.is_multipart():
                continue
            if part.get_filename():
                raise EngineError(48, "NOT_IMPLEMENTED",
                                  "External data is not supported by this test server.")
            payload = part.get_payload(decode=True)
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = payload.decode() if isinstance(payload, bytes) else ""
        return fields

    def response_encoding(self, params: dict[str, str]) -> str | None:
        if params.get("enable_http_compression") not in ("1", "true"):
            return None
        asked = [name.strip() for name in self.headers.get("Accept-Encoding", "").split(",")]
        return next((name for name in asked if name in RESPONSE_ENCODINGS), None)

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        headers |= {"X-ClickHouse-Server-Display-Name": self.server.display_name,
                    "Content-Length": str(len(body))}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def read_query(text: bytes, params: dict[str, str]) -> Query:
    """The statement and what the URL says about running it."""
    for flag in ("compress", "decompress"):
        if params.get(flag) == "1":
            raise EngineError(48, "NOT_IMPLEMENTED", f"{flag}=1 (ClickHouse's own block "
                              "compression) is not supported by this test server.")
    return Query(
        text,
        params={name[6:]: value for name, value in params.items() if name.startswith("param_")},
        settings={name: value for name, value in params.items()
                  if name not in HTTP_ONLY and not name.startswith("param_")},
        database=params.get("database") or None,
        default_format=params.get("default_format") or "TabSeparated",
        session_id=params.get("session_id") or None,
        session_timeout=float(params.get("session_timeout") or 60),
        session_check=params.get("session_check") in ("1", "true"))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], engine: Engine, verbose: bool = False) -> None:
        super().__init__(address, Handler)
        self.engine = engine
        self.verbose = verbose
        self.display_name = socket.gethostname()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8123, help="0: any free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--path", type=Path, required=True, help="the chDB data directory")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    engine = Engine(args.path)
    server = Server((args.host, args.port), engine, args.verbose)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        engine.close()


if __name__ == "__main__":
    main()
