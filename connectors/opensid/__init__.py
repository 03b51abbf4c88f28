"""Village systems (OpenSID): per-desa Excel exports in a drop folder, OpenDK-style ZIP pushes."""

from connectors.opensid.connector import OpenSidDropConnector

__all__ = ["OpenSidDropConnector"]
