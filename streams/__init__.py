"""Runners that carry the ledger's events into the projections and on to ClickHouse."""
