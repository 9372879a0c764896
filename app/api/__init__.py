"""The HTTP API for one-stop systems, its access control, and the live public ranking page."""
