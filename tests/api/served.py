"""``dossier serve`` with fixed clocks, for tests and the API benchmark: run as
``python -m tests.api.served DATA_DIR PORT MOMENT`` (the ledger records, and the runner
scores, at MOMENT: nothing depends on the day the tests run)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from app.api.live import fixed_clock
from app.api.server import open_state, serve
from app.settings import Settings, Store


def main() -> None:
    data_dir, port, moment = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    clock = fixed_clock(datetime.fromisoformat(moment))
    settings = Settings(data_dir=data_dir, store=Store.SQLITE, pseudonym_key="test-key")
    opened = open_state(settings, clock=clock, ledger_clock=clock, refresh_seconds=3600)
    serve(opened, "127.0.0.1", port)


if __name__ == "__main__":
    main()
