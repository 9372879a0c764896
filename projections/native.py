"""The compiled parts of the projections and the switch back to their pure-Python reference.

``make setup`` builds four Cython extensions: the timestamp parser (``_instants``), the fold of
dossier events (``_fold``), the dossier counters (``_dossier_counters``) and the rows of the
``dossier_facts`` table (``clickhouse._fact_rows``). Each has a
pure-Python twin that stays the reference (same results, several times slower): without a C
compiler at install, or with ``DOSSIER_PURE_PYTHON=1`` in the environment, the twins run.
"""

from __future__ import annotations

import os


def pure_python() -> bool:
    """Whether ``DOSSIER_PURE_PYTHON`` asks for the pure-Python reference."""
    return os.environ.get("DOSSIER_PURE_PYTHON", "").lower() in ("1", "true", "yes")


MODULES = ("projections._instants", "projections._fold", "projections._dossier_counters",
           "projections.clickhouse._fact_rows")


def missing() -> list[str]:
    """The compiled modules that cannot be imported (not built)."""
    import importlib

    absent = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            absent.append(name)
    return absent
