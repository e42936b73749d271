"""Shared input of the dashboard views: the catalog, the store, the language and the current time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from integration_monitor.catalog.models import Catalog, NationalDatabase, Service
from integration_monitor.i18n import Translate, translator

DOMAIN = "dashboard"

# Leading words that every database name shares; the matrix headers drop them.
_NAME_PREFIXES_VI = ("Cơ sở dữ liệu quốc gia về ", "Cơ sở dữ liệu về ", "Cơ sở dữ liệu ", "Hệ thống quản lý thông tin ")
_NAME_PREFIXES_EN = ("National ", "Database of ")


@dataclass(frozen=True)
class ViewContext:
    catalog: Catalog
    factory: sessionmaker[Session]
    language: str
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @cached_property
    def _(self) -> Translate:
        return translator(DOMAIN, self.language)

    @property
    def english(self) -> bool:
        return self.language == "en"

    def database_name(self, database: NationalDatabase | str) -> str:
        database = self.catalog.database(database) if isinstance(database, str) else database
        return database.name_en if self.english else database.name

    def short_database_name(self, database: NationalDatabase) -> str:
        name = self.database_name(database)
        for prefix in _NAME_PREFIXES_EN if self.english else _NAME_PREFIXES_VI:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        name = name.removesuffix(" database")
        return name[:1].upper() + name[1:]

    def service_name(self, service: Service | int) -> str:
        service = self.catalog.service(service) if isinstance(service, int) else service
        return service.name_en if self.english else service.name

    def owner_name(self, code: str) -> str:
        try:
            owner = self.catalog.owner(code)
        except KeyError:
            return code
        return owner.name_en if self.english else owner.name

    def field_label(self, database: NationalDatabase, code: str) -> str:
        try:
            spec = database.field(code)
        except KeyError:
            return code
        return spec.label_en if self.english else spec.label
