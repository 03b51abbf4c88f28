from connectors.siak_export.connector import SiakExportConnector

__all__ = ["SiakExportConnector"]
