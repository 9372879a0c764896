"""Workload simulator: a seeded, calibrated stream of dossier, procedure and petition events."""
