"""Pure domain model of dossiers (hồ sơ), procedures (TTHC), petitions (PAKN) and units."""
