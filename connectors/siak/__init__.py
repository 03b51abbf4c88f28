"""Disdukcapil SIAK web service (residents, families, events)."""

from connectors.siak.connector import SiakConnector

__all__ = ["SiakConnector"]
