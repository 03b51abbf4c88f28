"""Dinas Sosial: CSV drops of social-assistance recipients (DTKS-like)."""

from connectors.dinsos.connector import DinsosDropConnector

__all__ = ["DinsosDropConnector"]
