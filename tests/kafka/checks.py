"""What every relay test asserts about a topic: positions present, one partition per key,
each key's events in position order (after dropping repeats, as a consumer does)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from tests.kafka.conftest import Record


def ledger_positions(data_dir: Path) -> list[int]:
    """The positions of the ledger's events (idempotency records are not published)."""
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"))
    try:
        return [envelope["position"] for envelope in ledger.read_envelopes()]
    finally:
        ledger.close()


def keys_keep_order(records: list[Record]) -> dict[str, int]:
    """Assert each key lives on one partition and its first sightings of positions come in
    position order; returns key → partition."""
    partition_of: dict[str, int] = {}
    seen: dict[str, list[int]] = defaultdict(list)
    for record in records:  # in (partition, offset) order
        assert partition_of.setdefault(record.key, record.partition) == record.partition, \
            f"{record.key} is on partitions {partition_of[record.key]} and {record.partition}"
        position = record.position
        if not seen[record.key] or position > seen[record.key][-1]:
            seen[record.key].append(position)
        else:  # a repeat after a crash: only ever of a position already seen
            assert position in seen[record.key], (record.key, position, seen[record.key])
    for key, positions in seen.items():
        assert positions == sorted(positions), key
    return partition_of


def acked_on_topic(acknowledged: int, expected: list[int], records: list[Record]) -> None:
    """Every event up to the acknowledged position is on the topic."""
    on_topic = {r.position for r in records}
    missing = [p for p in expected if p <= acknowledged and p not in on_topic]
    assert not missing, f"acknowledged {acknowledged} but missing {missing[:5]}…"
