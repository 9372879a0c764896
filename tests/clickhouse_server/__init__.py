"""The ClickHouse server path (DOSSIER_CLICKHOUSE_URL), end to end through a real engine."""
