"""Processes the tests start to stand in for services that do not install here."""
