"""clickhouse-connect against the server: what the project's writer and readers rely on."""

from __future__ import annotations

import gzip
import re
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from clickhouse_connect.driver.compression import available_compression, comp_map
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.clickhouse_server.runs import fresh_database

Client = Any
INSERT_COMPRESSIONS = [name for name in available_compression if name in comp_map]
"""What clickhouse-connect can compress an insert with (``compress=``)."""


@pytest.fixture
def client(clickhouse_server: str, request: pytest.FixtureRequest) -> Iterator[Client]:
    """A client on a fresh database named after the test."""
    import clickhouse_connect

    url = fresh_database(clickhouse_server, re.sub(r"\W", "_", f"t_{request.node.name[5:]}"))
    made = clickhouse_connect.get_client(dsn=url)
    yield made
    made.close()


def lz4_frames(data: bytes) -> bytes:
    import lz4.frame

    return bytes(lz4.frame.compress(data))


def zstd_frame(data: bytes) -> bytes:
    from backports import zstd

    return bytes(zstd.compress(data))


COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "lz4": lz4_frames, "zstd": zstd_frame, "gzip": gzip.compress, "deflate": zlib.compress}


def test_ping_and_the_server_it_reports(clickhouse_server: str, client: Client) -> None:
    with urllib.request.urlopen(f"{clickhouse_server}/ping") as response:
        assert response.read() == b"Ok.\n"
    assert client.ping()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", client.server_version)  # the engine's
    assert client.command("SELECT currentDatabase()") == client.database


def test_a_query_returns_typed_rows(client: Client) -> None:
    result = client.query(
        "SELECT number AS n, toLowCardinality(toString(number)) AS label, "
        "toDateTime64('2026-10-05 01:00:00.25', 6, 'UTC') AS at, "
        "if(number = 1, NULL, number * 2) AS maybe, [number, 7] AS pair, "
        "toDecimal64(number / 4, 2) AS share FROM numbers({count:UInt8})",
        parameters={"count": 3})
    assert result.column_names == ("n", "label", "at", "maybe", "pair", "share")
    # (a time in the server's zone comes back naive, from a server as from chDB)
    at = datetime(2026, 10, 5, 1, 0, 0, 250000)
    assert result.result_rows == [(0, "0", at, 0, [0, 7], Decimal("0")),
                                  (1, "1", at, None, [1, 7], Decimal("0.25")),
                                  (2, "2", at, 4, [2, 7], Decimal("0.5"))]
    with client.query_row_block_stream("SELECT number FROM numbers(200000)") as stream:
        assert sum(len(block) for block in stream) == 200_000


@pytest.mark.parametrize("compression", [None, *INSERT_COMPRESSIONS])
def test_inserts_arrive_in_every_compression(clickhouse_server: str, client: Client,
                                             compression: str | None) -> None:
    import clickhouse_connect

    assert {"lz4", "zstd", "gzip"} <= set(INSERT_COMPRESSIONS)
    client.command("CREATE TABLE rows (id UInt32, name String, at DateTime64(6, 'UTC')) "
                   "ENGINE = MergeTree ORDER BY id")
    url = f"{clickhouse_server}/{client.database}"
    sending = clickhouse_connect.get_client(dsn=url, compress=compression or False)
    at = datetime(2026, 10, 5, tzinfo=UTC)
    # Native rows in five blocks, each compressed on its own
    native = sending.create_insert_context("rows", data=[[n, f"hồ sơ {n}", at]
                                                         for n in range(5000)])
    native.block_row_count = 1000
    assert sending.data_insert(native).written_rows == 5000
    lines = b"".join(b'[%d,"line %d","2026-10-05T07:00:00+07:00"]\n' % (n, n)
                     for n in range(5000, 5100))
    sending.raw_insert("rows", ["id", "name", "at"],
                       COMPRESS[compression](lines) if compression else lines,
                       fmt="JSONCompactEachRow", compression=compression,
                       settings={"date_time_input_format": "best_effort"})
    sending.close()
    naive = at.replace(tzinfo=None)
    assert client.query("SELECT count(), uniqExact(id), max(name), min(at), max(at) "
                        "FROM rows").result_rows == [(5100, 5100, "line 5099", naive, naive)]


@pytest.mark.parametrize("encoding", ["lz4", "zstd", "gzip", "deflate"])
def test_responses_are_compressed_when_asked(clickhouse_server: str, encoding: str) -> None:
    asked = urllib.request.Request(
        f"{clickhouse_server}/?enable_http_compression=1&query=SELECT+42",
        headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(asked) as response:
        assert response.headers["Content-Encoding"] == encoding
        body = response.read()
    from clickhouse_connect.driver._backend.httpcommon import decompress_response

    assert decompress_response(body, encoding) == b"42\n"
    plain = urllib.request.Request(f"{clickhouse_server}/?query=SELECT+42",
                                   headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(plain) as response:
        assert "Content-Encoding" not in response.headers
        assert response.read() == b"42\n"


def test_a_setting_holds_for_its_query_only(client: Client) -> None:
    asked = "SELECT getSetting('max_block_size')"
    default = client.query(asked).result_rows[0][0]
    assert client.query(asked, settings={"max_block_size": 1234}).result_rows == [(1234,)]
    assert client.query(asked).result_rows == [(default,)]
    client.command("SET max_block_size = 4321")  # the session's own, from now on
    assert client.query(asked, settings={"max_block_size": 99}).result_rows == [(99,)]
    assert client.query(asked).result_rows == [(4321,)]
    with pytest.raises(DatabaseError, match="UNKNOWN_SETTING"):
        client.query("SELECT 1", settings={"no_such_setting_anywhere": 1})


def test_a_session_keeps_its_state_from_others(clickhouse_server: str, client: Client) -> None:
    import clickhouse_connect

    url = f"{clickhouse_server}/{client.database}"
    other = clickhouse_connect.get_client(dsn=url, session_id="another-session")
    client.command("CREATE TEMPORARY TABLE scratch (n UInt8)")
    client.command("INSERT INTO scratch VALUES (1), (2)")
    client.command("SET max_result_rows = 12345")
    assert client.query("SELECT sum(n) FROM scratch").result_rows == [(3,)]
    assert other.query("SELECT getSetting('max_result_rows')").result_rows != [(12345,)]
    with pytest.raises(DatabaseError, match="scratch"):
        other.query("SELECT sum(n) FROM scratch")
    again = clickhouse_connect.get_client(dsn=url, session_id=client.get_client_setting(
        "session_id"))
    assert again.query("SELECT sum(n) FROM scratch").result_rows == [(3,)]
    for made in (other, again):
        made.close()


def test_an_error_is_raised_as_a_database_error_naming_it(clickhouse_server: str,
                                                          client: Client) -> None:
    with pytest.raises(DatabaseError) as unknown:
        client.query("SELECT * FROM no_such_table")
    assert unknown.value.code == 60 and unknown.value.name == "UNKNOWN_TABLE"
    assert "no_such_table" in str(unknown.value)
    client.command("CREATE TABLE typed (n UInt32) ENGINE = MergeTree ORDER BY n")
    with pytest.raises(DatabaseError, match=r"CANNOT_PARSE|INCORRECT_DATA"):
        client.raw_insert("typed", ["n"], b'["not a number"]\n', fmt="JSONCompactEachRow")
    assert client.command("SELECT count() FROM typed") == 0
    with pytest.raises(urllib.error.HTTPError) as syntax:
        urllib.request.urlopen(f"{clickhouse_server}/?query=SELEC+1")
    assert syntax.value.code == 400
    assert syntax.value.headers["X-ClickHouse-Exception-Code"] == "62"
    assert syntax.value.read().decode().startswith("Code: 62. DB::Exception: Syntax error")


def test_clients_on_threads_write_at_once(clickhouse_server: str, client: Client) -> None:
    import clickhouse_connect

    client.command("CREATE TABLE hits (writer UInt8, n UInt32) ENGINE = MergeTree ORDER BY n")
    url = f"{clickhouse_server}/{client.database}"
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            own = clickhouse_connect.get_client(dsn=url)
            for batch in range(10):
                own.insert("hits", [[writer, batch * 100 + n] for n in range(100)])
            own.close()
        except BaseException as error:  # reported by the test, not lost in a thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert client.query("SELECT writer, count() FROM hits GROUP BY writer "
                        "ORDER BY writer").result_rows == [(w, 1000) for w in range(4)]
