"""ClickHouse side of the projections: the one schema module, row conversion and the writer."""
