"""The event archive copies the ledger's canonical JSON into ClickHouse: every payload comes
back byte for byte (escapes, Vietnamese text, numbers, nesting), personal fields pseudonymised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.test_clickhouse_live import ROOT

SCRIPT = r'''
import json, sys
from pathlib import Path
from ledger.chain import canonical_json
from projections.clickhouse import schema
from projections.clickhouse.rows import event_line, pseudonymised
from projections.clickhouse.writer import Batch, ClickHouseWriter, open_client
from projections.periods import parse_instant

payloads = [
    {},
    {"name": "Sở Xây dựng tỉnh Quảng Ninh", "kind": "department", "parent": "22"},
    {"reason": "thiếu \"bản sao\" \\ giấy tờ\n\ttab\u0001\u001f ✓ 😀", "note": None},
    {"fee_vnd": 1500000, "ratio": 0.1, "tiny": 1e-7, "big": 12345678901234567890,
     "neg": -0.0, "flag": True, "off": False},
    {"components": [{"name": "Đơn", "digitized": True}, {"name": "Ảnh 3×4", "reused": False}],
     "nested": {"b": [1, 2, {"z": None, "a": "x"}], "a": {}}},
    {"applicant_ref": "CCCD 022090001234", "channel": "online", "procedure": "p1"},
    {"applicant_ref": "Nguyễn \"Văn\" A\\", "note": "\"applicant_ref\":\"x\"", "n": 1},
    {"applicant_ref": "r-1", "components": [{"applicant_ref": "r-1"}]},
    {"applicant_ref": None, "channel": "direct"},
]
client = open_client(None, Path(sys.argv[1]))
writer = ClickHouseWriter(client)
writer.ensure_schema()
batch = Batch()
expected = {}
for position, data in enumerate(payloads, start=1):
    envelope = {"stream": "dossier", "id": f"d{position}", "seq": 1,
                "type": "dossier.submitted", "at": "2026-10-01T08:00:00+07:00",
                "recorded_at": "2026-10-01T01:00:00.123456+00:00", "data": data,
                "prev_hash": "0" * 64, "hash": f"{position:064x}"}
    stored = canonical_json(envelope)
    batch.add_lines(schema.EVENTS, [event_line({**envelope, "position": position}, stored,
                                               b"key")])
    expected[position] = [canonical_json(pseudonymised(data, b"key")).decode(),
                          parse_instant(envelope["at"]), parse_instant(envelope["recorded_at"])]
writer.write(batch)
rows = client.query("SELECT position, data, toUnixTimestamp64Micro(at), "
                    "toUnixTimestamp64Micro(recorded_at) FROM dossier_events "
                    "ORDER BY position").result_rows
got = {int(p): [d, int(a), int(r)] for p, d, a, r in rows}
print(json.dumps({"expected": expected, "got": got}))
'''


def test_archived_payloads_come_back_byte_for_byte(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "olap")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["got"] == report["expected"]
    personal = json.loads(report["got"]["6"][0])
    assert len(personal["applicant_ref"]) == 64 and "CCCD" not in report["got"]["6"][0]
    quoted = json.loads(report["got"]["7"][0])  # the value has quotes; the note mimics a key
    assert len(quoted["applicant_ref"]) == 64 and quoted["note"] == '"applicant_ref":"x"'
    nested = json.loads(report["got"]["8"][0])  # only the top-level field is personal
    assert nested["applicant_ref"] != "r-1" and nested["components"] == [{"applicant_ref": "r-1"}]
    assert json.loads(report["got"]["9"][0])["applicant_ref"] is None
