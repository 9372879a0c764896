"""Composition root: settings, the ``dossier`` CLI, the HTTP API, the simulator and the demo."""
