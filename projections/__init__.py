"""Pure projections of the ledger: per-dossier facts, indicator counters, rulebook scores."""
