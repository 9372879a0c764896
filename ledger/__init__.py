"""The event-sourced ledger: commands, integrity chain, audit queries, import and export."""
