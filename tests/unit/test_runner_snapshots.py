"""A runner's snapshot: the state folded up to a cut point, pickled and loaded, then the tail
folded, gives the rows a fold of the whole history gives (at random cut points, on the
compiled and the pure-Python engine); a snapshot file that does not check out is refused."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from projections.clickhouse import schema
from projections.clickhouse.writer import Batch
from projections.periods import to_datetime
from projections.synthetic import random_history
from streams.projector import Projector
from streams.snapshots import SnapshotError, Snapshots

pytestmark = pytest.mark.usefixtures("compiled_or_python")
KEY = b"test-key"
COMPUTED_AT = datetime(2027, 1, 1, tzinfo=UTC)


def rows_of(projector: Projector, as_of: datetime) -> dict[str, Any]:
    """Every fact row and every score row (not only changed ones) the projector gives."""
    batch = Batch()
    projector.fact_rows(batch, set(projector.dossier_positions), as_of)
    projector.score_rows(batch, projector.groups, as_of, COMPUTED_AT, only_changed=False)
    return {table: sorted(repr(tuple(orjson.dumps(v) if isinstance(v, orjson.Fragment) else v
                                     for v in row)) for row in rows)
            for table, rows in batch.rows.items()}


def folded(events: list[dict[str, Any]], batch: int = 17) -> Projector:
    projector = Projector(KEY)
    for first in range(0, len(events), batch):
        projector.fold(events[first:first + batch])
    return projector


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_snapshot_and_tail_fold_equal_a_full_fold_at_random_cut_points(seed: int) -> None:
    """The same batches folded by one projector throughout, and by one pickled and loaded at
    the cut (which groups a pool change touches depends on the batches, not the snapshot)."""
    events = random_history(seed, 70, petitions=10, departments=2, communes=3, procedures=5)
    rng = random.Random(seed)
    end = to_datetime(folded(events).engine.facts.watermark)
    for cut in sorted(rng.sample(range(1, len(events)), 4)):
        as_of = end + timedelta(hours=rng.randint(1, 200))
        written = rng.random() < 0.5  # rows written at the cut: the projector remembers them
        whole, head = folded(events[:cut]), folded(events[:cut])
        if written:
            for projector in (whole, head):
                rows_of(projector, to_datetime(projector.engine.facts.watermark))
        resumed = pickle.loads(pickle.dumps(head))
        for projector in (whole, resumed):
            projector.fold(events[cut:])
        expected = rows_of(whole, as_of)
        assert expected[schema.RANKINGS] and expected[schema.DOSSIER_FACTS]
        assert rows_of(resumed, as_of) == expected, f"cut at {cut} of {len(events)}"
        assert resumed.engine.facts.position == whole.engine.facts.position == len(events)


def test_a_snapshot_file_that_does_not_check_out_is_refused(tmp_path: Path) -> None:
    events = random_history(5, 20, petitions=2, departments=1, communes=1, procedures=2)
    projector = folded(events)
    snapshots = Snapshots(tmp_path / "state", keep=2)
    for position in (5, 9, 14):
        snapshots.save(projector, position, f"hash-{position}")
    listed = snapshots.listed()
    assert [s.position for s in listed] == [14, 9]  # the two latest kept
    loaded = snapshots.load(listed[0])
    assert rows_of(loaded, COMPUTED_AT) == rows_of(projector, COMPUTED_AT)

    data = bytearray(listed[0].path.read_bytes())
    data[-10] ^= 1
    listed[0].path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="does not match its header"):
        snapshots.load(listed[0])

    other = Snapshots(tmp_path / "state")
    other._fingerprint = "another version"
    with pytest.raises(SnapshotError, match="another version of the code"):
        other.load(listed[1])


def test_a_snapshot_written_in_the_background_is_whole(tmp_path: Path) -> None:
    events = random_history(6, 30, petitions=3, departments=1, communes=2, procedures=3)
    projector = folded(events)
    snapshots = Snapshots(tmp_path / "state")
    assert snapshots.save_in_background(projector, 30, "h")
    assert not snapshots.save_in_background(projector, 31, "h") or True  # one at a time
    snapshots.wait()
    assert not snapshots.busy()
    (found,) = [s for s in snapshots.listed() if s.position == 30]
    assert rows_of(snapshots.load(found), COMPUTED_AT) == rows_of(projector, COMPUTED_AT)
