"""The appendix catalog: services, national databases, owners, fields and tasks."""

from integration_monitor.catalog.errors import CatalogError
from integration_monitor.catalog.loader import load_catalog, load_catalog_cached
from integration_monitor.catalog.models import Catalog, FieldSpec, NationalDatabase, Service

__all__ = ["Catalog", "CatalogError", "FieldSpec", "NationalDatabase", "Service", "load_catalog", "load_catalog_cached"]
