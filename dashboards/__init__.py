"""Grafana dashboards as code, publishing, and the live ranking page assets."""
