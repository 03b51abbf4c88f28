"""Shared connector machinery: the contract, HTTP with auth/pagination/retries."""

from connectors.base.contract import Connector, StreamSpec
from connectors.base.http import HttpError
from connectors.base.http_client import HttpClient

__all__ = ["Connector", "HttpClient", "HttpError", "StreamSpec"]
