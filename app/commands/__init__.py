"""Sub-commands of the ``dossier`` CLI, one module per area; each exposes ``register(app)``."""
