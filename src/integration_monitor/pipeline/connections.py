"""Airflow Connections that hold each national database's endpoint.

Naming convention: ``national_db_<database code>``, e.g. ``national_db_dan_cu``. Connection
type ``http``; host, port and schema (``http`` or ``https``) give the base URL; login and
password are the OAuth2 client id and secret; the extra JSON may set ``agency_code``,
``api_version``, ``ca_pem_url`` or ``ca_bundle_path``, ``batch_size``, ``page_size``,
``connect_timeout``, ``read_timeout``, ``max_attempts`` and ``max_response_bytes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CONNECTION_PREFIX = "national_db_"


def connection_id(database_code: str) -> str:
    return f"{CONNECTION_PREFIX}{database_code}"


@dataclass(frozen=True)
class ConnectionSpec:
    conn_id: str
    host: str
    port: int
    login: str
    password: str
    extra: dict[str, Any]
    schema: str = "http"
    conn_type: str = "http"

    def as_uri(self) -> str:
        """Return the ``AIRFLOW_CONN_*`` URI form, with the password URL-encoded."""
        from urllib.parse import quote, urlencode

        query = urlencode({"__extra__": json.dumps(self.extra)})
        return (
            f"{self.conn_type}://{quote(self.login, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{self.schema}?{query}"
        )


def stub_connection_specs(
    ports: dict[str, int], client_id: str, client_secret: str, agency_code: str = "VPCP", **extra: Any
) -> list[ConnectionSpec]:
    """Return one connection per database pointing at the local stub server's ports."""
    return [
        ConnectionSpec(
            conn_id=connection_id(code),
            host="127.0.0.1",
            port=port,
            login=client_id,
            password=client_secret,
            extra={"agency_code": agency_code, "api_version": "v1", "ca_pem_url": "/pki/ca.pem", **extra},
        )
        for code, port in ports.items()
    ]


def save_connections(specs: list[ConnectionSpec]) -> None:
    """Create or replace the connections in Airflow's metadata database."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        for spec in specs:
            existing = session.query(Connection).filter(Connection.conn_id == spec.conn_id).one_or_none()
            if existing is not None:
                session.delete(existing)
                session.flush()
            session.add(
                Connection(
                    conn_id=spec.conn_id,
                    conn_type=spec.conn_type,
                    host=spec.host,
                    port=spec.port,
                    schema=spec.schema,
                    login=spec.login,
                    password=spec.password,
                    extra=json.dumps(spec.extra),
                )
            )
