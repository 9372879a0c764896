"""The integrity chain: canonical JSON and SHA-256 hashes linking each aggregate's events.

hash = SHA-256 over the canonical JSON (sorted keys, no insignificant whitespace, UTF-8) of the
event's envelope without ``position``, ``recorded_at`` and ``hash`` itself, where the envelope
includes ``prev_hash``: the hash of the previous event of the same aggregate, 64 zeros for the
first. An auditor can recompute it with nothing but a JSON library and SHA-256::

    json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

GENESIS = "0" * 64
UNHASHED = ("position", "recorded_at", "hash")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (no ASCII escaping)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def event_hash(envelope: Mapping[str, Any]) -> str:
    """The hash of an envelope that carries its ``prev_hash``."""
    hashed = {key: value for key, value in envelope.items() if key not in UNHASHED}
    return hashlib.sha256(canonical_json(hashed)).hexdigest()


def is_hex_hash(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 64
        and all(c in "0123456789abcdef" for c in value)
    )
