"""DPMPTSP OSS-RBA business permits (izin) over OAuth2 client credentials."""

from connectors.oss.connector import OssConnector

__all__ = ["OssConnector"]
