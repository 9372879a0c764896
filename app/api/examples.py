"""Examples of the reads' answers, for the OpenAPI schema (shortened: one row, one group)."""

from __future__ import annotations

from typing import Any

AS_OF = "2026-10-12T12:00:00+07:00"
GROUP = {"code": "G2", "name": "Tiến độ giải quyết", "max": 20.0, "points": 18.5,
         "indicators": [{"code": "2.1", "name": "Hồ sơ giải quyết đúng hạn", "numerator": 37,
                         "denominator": 40, "ratio": 0.925, "points": 18.5, "max": 20.0,
                         "applicable": True}]}
SCORE = {"unit": "22", "unit_name": "Quảng Ninh", "kind": "province", "period": "2026-10",
         "as_of": AS_OF, "rulebook": {"id": "vn-766", "version": 1}, "total": 88.19,
         "band": "Tốt", "rank": 1, "groups": [GROUP], "position": 20726}
RANKING = {"period": "2026-10", "kind": "province", "province": None, "rulebook": "vn-766",
           "rulebook_version": 1, "as_of": AS_OF, "position": 20726, "rows": [SCORE]}
HISTORY = {"dossier": "d-0001", "code": "000.00.22.H40-261001-0001", "as_of": AS_OF,
           "state": {"status": "in_process", "due_at": "2026-10-22T17:00:00+07:00"},
           "events": [{"type": "dossier.received", "stream": "dossier", "id": "d-0001",
                       "seq": 2, "at": "2026-10-01T09:00:00+07:00", "data": {},
                       "position": 9, "recorded_at": "2026-10-01T09:00:01+00:00",
                       "prev_hash": "5f1c…", "hash": "a93e…"}]}
EXPLAIN = {"unit": "22.SXD", "period": "2026-10", "indicator": "2.1",
           "name": "Hồ sơ giải quyết đúng hạn", "as_of": AS_OF, "numerator": 1,
           "denominator": 2, "evaluated_at": AS_OF,
           "items": [{"kind": "dossier", "id": "d-0001", "code": "000.00.22.H40-261001-0001",
                      "numerator": True, "reason": "giải quyết đúng hạn"}]}
SERIES = {"unit": "22", "period": "2026-10", "rulebook": "vn-766",
          "points": [{"as_of": AS_OF, "position": 20726, "total": 88.19}]}
PERIODS = {"kind": "province", "rulebook": "vn-766", "periods": ["2026", "2026-10", "2026-Q4"],
           "current": "2026-10", "rulebooks": ["vn-766", "vn-766-online12"]}
KEY = {"key_id": "3f9a1c0b7d2e", "role": "agency", "unit": "22.SXD",
       "created_at": AS_OF, "expires_at": "2027-12-31T23:59:59+07:00", "revoked_at": None,
       "note": "một cửa Sở Xây dựng"}
READY = {"ledger": "ok", "ledger_position": 20726, "ready": True,
         "runner": {"resumed": True, "position": 20726, "lag": 0, "error": None}}


def answer(example: Any, description: str = "the answer") -> dict[int | str, dict[str, Any]]:
    """A 200 answer with its JSON example."""
    return {200: {"description": description,
                  "content": {"application/json": {"example": example}}}}
