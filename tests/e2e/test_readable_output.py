"""What officials read, as the installed ``dossier`` prints it into a pipe with COLUMNS=80: tables
that fit, numbers whole, local times with their offset, Vietnamese labels, explanations by
dossier code. Scores are evaluated at fixed moments (the example ledger, October 2026)."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

import orjson
import pytest
from rich.cells import cell_len

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from tests.e2e.test_no_traceback import (
    AS_OF,
    DOSSIER,
    assert_no_traceback,
    assert_one_line_refusal,
    dossier,
    env_for,
    example_ledger,
)

PERIOD = ["-p", "2026-10", "--as-of", AS_OF]
TABLES = {
    "history": ["history", "000.00.22.H40-261001-0001", "--as-of", AS_OF],
    "rank": ["rank", *PERIOD],
    "rank of departments": ["rank", "-k", "department", "--province", "22", *PERIOD],
    "score": ["score", "-u", "22", *PERIOD],
    "explain": ["explain", "-u", "22", "-i", "2.1", *PERIOD],
    "explain (empty)": ["explain", "-u", "01", "-i", "2.1", *PERIOD],
    "live-rank": ["live-rank", "-p", "2026-10"],
}
GROUPS = ("G1 Công khai, minh bạch", "G2 Tiến độ giải quyết", "G3a Dịch vụ công trực tuyến",
          "G3b Thanh toán trực tuyến", "G4 Số hóa hồ sơ", "G5 Mức độ hài lòng")
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(\S*)")


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example ledger, with its scores written to ClickHouse as of the end of October."""
    data = example_ledger(tmp_path_factory.mktemp("scored") / "data")
    followed = dossier(data, "follow", "--once", "--quiet", "--as-of", AS_OF)
    assert followed.returncode == 0, followed.stderr
    return data


def shown(data: Path, name: str) -> str:
    result = dossier(data, *TABLES[name])
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", list(TABLES))
def test_every_line_fits_an_80_column_pipe(scored: Path, name: str) -> None:
    output = shown(scored, name)
    too_wide = [line for line in output.splitlines() if cell_len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    assert not re.search(r"\d…", output), "a number was cut short"


@pytest.mark.parametrize("name", ["rank", "live-rank", "score"])
def test_points_appear_whole_in_narrow_tables(scored: Path, name: str) -> None:
    output = shown(scored, name)
    for figure in ("61.00", "10.00", "18.00", "12.00"):
        assert re.search(rf"(?<![\d.]){re.escape(figure)}(?![\d.])", output), figure
    if name == "score":
        assert "20.00" in output and "Tổng điểm 61.00/100" in output


@pytest.mark.parametrize("name", ["rank", "rank of departments", "live-rank"])
def test_ranking_tables_spell_out_the_groups_once_under_them(scored: Path, name: str) -> None:
    output = shown(scored, name)
    legend = " ".join(output[output.index("Nhóm:"):].split())
    for group in GROUPS:
        assert legend.count(group) == 1, group


def test_a_pipe_gets_80_columns_unless_columns_is_set(scored: Path) -> None:
    """Standard input and error on a 200-column terminal, standard output into a pipe."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = env_for(scored)
    env.pop("COLUMNS")
    try:
        piped = subprocess.run([DOSSIER or "dossier", *TABLES["rank"]], env=env,
                               stdin=terminal, stderr=terminal, stdout=subprocess.PIPE,
                               text=True, timeout=120, check=False)
    finally:
        os.close(terminal)
        os.close(controller)
    assert piped.returncode == 0
    assert max(cell_len(line) for line in piped.stdout.splitlines()) == 80
    wide = dossier(scored, *TABLES["rank"]).stdout  # COLUMNS=80 …
    wider = subprocess.run([DOSSIER or "dossier", *TABLES["rank"]],
                           env=env_for(scored) | {"COLUMNS": "160"}, capture_output=True,
                           text=True, timeout=120, check=False).stdout  # … and 160
    assert max(cell_len(line) for line in wide.splitlines()) == 80
    assert max(cell_len(line) for line in wider.splitlines()) > 80


@pytest.mark.parametrize("name", ["history", "rank", "score", "explain", "live-rank"])
def test_times_are_local_with_their_offset_titles_included(scored: Path, name: str) -> None:
    output = shown(scored, name)
    moments = MOMENT.findall(output)
    assert moments, f"no time shown by {name}"
    assert all(offset.startswith("+07:00") for offset in moments), moments
    title = " ".join(" ".join(output.splitlines()[:3]).split())
    assert re.search(r"tính đến \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+07:00", title), title


def test_history_speaks_vietnamese(scored: Path) -> None:
    output = shown(scored, "history")
    for label in ("Sự kiện", "Xảy ra / ghi sổ", "Nội dung", "Nộp hồ sơ", "Yêu cầu bổ sung",
                  "Trả kết quả", "Trạng thái hồ sơ", "đã trả kết quả", "Hạn trả hiện tại",
                  "trực tuyến"):
        assert label in output, label
    for english in ("submitted", "supplement_requested", "returned", "status", "late"):
        assert not re.search(rf"\b{english}\b", output), english


def test_live_rank_is_titled_and_headed_in_vietnamese(scored: Path) -> None:
    output = shown(scored, "live-rank")
    assert "Bảng xếp hạng trực tiếp tỉnh, thành phố — kỳ 2026-10" in " ".join(output.split())
    header = next(line for line in output.splitlines() if line.startswith("Hạng"))
    assert header.split()[:5] == ["Hạng", "Mã", "Đơn", "vị", "Điểm"]
    assert "theo sổ cái đến vị trí 30" in output


def test_explain_lists_dossiers_by_code_sorted_with_the_fact_behind_each(scored: Path) -> None:
    output = shown(scored, "explain")
    rows = [line.split(None, 5) for line in output.splitlines() if line.startswith("hồ sơ")]
    assert [(r[2], r[-1].strip()) for r in rows] == [
        ("000.00.22.H40-261001-0001", "đúng hạn"), ("000.00.22.H40-261005-0003", "quá hạn")]
    explained = orjson.loads(dossier(scored, *TABLES["explain"], "--json").stdout)
    assert [(i["code"], i["id"], i["numerator"]) for i in explained["items"]] == [
        ("000.00.22.H40-261001-0001", "d-0001", True),
        ("000.00.22.H40-261005-0003", "d-0003", False)]


def test_explain_says_why_an_empty_indicator_is_empty(scored: Path) -> None:
    output = " ".join(shown(scored, "explain (empty)").split())
    assert "0/0" in output and "không có hồ sơ tiếp nhận trong kỳ" in output
    assert "0 điểm" in output
    explained = orjson.loads(dossier(scored, *TABLES["explain (empty)"], "--json").stdout)
    assert explained["items"] == []
    assert "không có hồ sơ tiếp nhận trong kỳ" in explained["empty_reason"]


def test_live_rank_json_and_csv_are_ranks_with_the_moment_and_position(scored: Path) -> None:
    ranked = orjson.loads(dossier(scored, "rank", *PERIOD, "--json").stdout)
    live = orjson.loads(dossier(scored, "live-rank", "-p", "2026-10", "--json").stdout)
    assert [row.pop("position") for row in live] == [30] * 34
    assert [row.pop("checkpoint") for row in live] == [None] * 34  # no signing key here
    assert live == ranked
    assert {row["as_of"] for row in live} == {"2026-10-31T23:59:59.999999+07:00"}

    ranked_csv = list(csv.reader(io.StringIO(dossier(scored, "rank", *PERIOD, "--csv").stdout)))
    live_csv = list(csv.reader(io.StringIO(
        dossier(scored, "live-rank", "-p", "2026-10", "--csv").stdout)))
    assert live_csv[0] == [*ranked_csv[0], "as_of", "position", "checkpoint"]
    assert [row[:-3] for row in live_csv[1:]] == ranked_csv[1:]
    assert {tuple(row[-3:]) for row in live_csv[1:]} == {
        ("2026-10-31T23:59:59.999999+07:00", "30", "")}


@pytest.mark.parametrize("command", ["rank", "live-rank"])
@pytest.mark.parametrize("wrong", [["-k", "city"], ["--province", "99"], ["-p", "2026-13"],
                                   ["-r", "vn-999"], ["--json", "--csv"]])
def test_rankings_refuse_a_wrong_period_kind_or_province_in_one_line(
        scored: Path, command: str, wrong: list[str]) -> None:
    args = ["-p", "2026-10", *wrong] if "-p" not in wrong else wrong
    result = dossier(scored, command, *args)
    assert_no_traceback(result)
    assert_one_line_refusal(result)
    assert result.returncode == 2 and result.stdout == ""


def test_a_mistyped_data_directory_is_refused_instead_of_ranking_every_province(
        tmp_path: Path) -> None:
    mistyped = tmp_path / "dtaa"
    result = dossier(mistyped, "rank", *PERIOD)
    assert_one_line_refusal(result)
    assert "no data directory" in result.stderr and result.stdout == ""
    assert not mistyped.exists()


def test_a_ledger_with_no_events_is_refused(tmp_path: Path) -> None:
    DossierLedger(StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite")).close()
    for args in (["rank", *PERIOD], ["verify"], ["export"], ["follow", "--once"]):
        result = dossier(tmp_path, *args)
        assert_one_line_refusal(result)
        assert "holds no events" in result.stderr, args
    assert not (tmp_path / "olap").exists()


def test_simulate_sums_up_in_vietnamese(tmp_path: Path) -> None:
    result = dossier(tmp_path / "data", "simulate", "--days", "1", "--scale", "0.002",
                     "-p", "22", "--start", "2026-10-05")
    assert result.returncode == 0, result.stderr
    output = " ".join(result.stdout.split())
    assert "Đã mô phỏng từ 2026-10-05 00:00+07:00 đến 2026-10-06 00:00+07:00" in output
    for label in ("sự kiện", "hồ sơ", "Hồ sơ theo trạng thái", "Trạng thái", "Số hồ sơ",
                  "Theo tỉnh, thành phố", "Quảng Ninh"):
        assert label in output, label
    assert all(cell_len(line) <= 80 for line in result.stdout.splitlines())
