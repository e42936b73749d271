"""The stub server's FastAPI app: token, records, CA certificate, health and admin endpoints."""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from integration_monitor.catalog.models import Catalog, NationalDatabase
from integration_monitor.service_codes import service_number
from integration_monitor.signatures import LocalPki
from integration_monitor.stubs.auth import TokenStore, admin_token_matches
from integration_monitor.stubs.listeners import ListenerSet
from integration_monitor.stubs.records import ContentVariant, RecordStore
from integration_monitor.stubs.responses import (
    HTML_UTF8,
    PageMeta,
    gateway_page,
    fault_response,
    json_error,
)
from integration_monitor.stubs.scenario import (
    Fault,
    ScenarioError,
    load_scenario,
    parse_database_scenario,
    parse_scenario,
)
from integration_monitor.stubs.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, StubSettings
from integration_monitor.stubs.state import ScenarioState

logger = logging.getLogger(__name__)

MAX_REQUEST_ID_LENGTH = 64
_HEADER_TEXT = re.compile(r"^[\x21-\x7e]+$")
# Faults whose response carries the page, so the records must be built.
_FAULTS_WITH_RECORDS = frozenset(
    {
        Fault.NONE,
        Fault.REFUSED,
        Fault.SLOW,
        Fault.SCHEMA_DRIFT,
        Fault.DUPLICATES,
        Fault.MALFORMED_JSON,
        Fault.TRUNCATED,
        Fault.OVERSIZED,
        Fault.WRONG_CHARSET,
    }
)


@dataclass
class StubRuntime:
    """Everything the endpoints share during one server run."""

    catalog: Catalog
    settings: StubSettings
    pki: LocalPki
    store: RecordStore
    scenarios: ScenarioState
    tokens: TokenStore
    listeners: ListenerSet | None = None


class _RequestRejected(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def create_app(runtime: StubRuntime) -> FastAPI:
    app = FastAPI(title="National database stubs", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        name = "not_found" if error.status_code == 404 else "http_error"
        return json_error(error.status_code, name, str(error.detail))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/pki/ca.pem")
    async def ca_certificate() -> Response:
        return Response(runtime.pki.ca_pem, media_type="application/x-pem-file")

    @app.post("/oauth2/token")
    async def token(request: Request) -> Response:
        return await _issue_token(runtime, request)

    @app.get("/api/v1/{database_code}/records")
    async def records(database_code: str, request: Request) -> Response:
        try:
            return await _serve_records(runtime, database_code, request)
        except _RequestRejected as rejected:
            return rejected.response

    _add_admin_routes(app, runtime)
    return app


# --- token ------------------------------------------------------------------------------


async def _issue_token(runtime: StubRuntime, request: Request) -> Response:
    form = await request.form()
    grant_type = form.get("grant_type")
    client_id = form.get("client_id")
    client_secret = form.get("client_secret")
    basic = _basic_credentials(request.headers.get("Authorization"))
    if basic is not None:
        client_id, client_secret = basic

    if not grant_type:
        return json_error(400, "invalid_request", "grant_type is missing")
    if grant_type != "client_credentials":
        return json_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        logger.info("Token request without client credentials rejected")
        return _invalid_client()
    if not runtime.settings.credentials.matches(client_id, client_secret):
        logger.info("Token request with wrong client credentials rejected")
        return _invalid_client()

    access_token = runtime.tokens.issue()
    body = {"access_token": access_token, "token_type": "Bearer", "expires_in": runtime.tokens.lifetime_seconds}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _invalid_client() -> Response:
    return json_error(401, "invalid_client", "client authentication failed", WWW_Authenticate='Basic realm="stub"')


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, separator, client_secret = decoded.partition(":")
    if not separator:
        return None
    return client_id, client_secret


# --- records ----------------------------------------------------------------------------


async def _serve_records(runtime: StubRuntime, database_code: str, request: Request) -> Response:
    _check_bearer_token(runtime, request)
    request_id, service_code, agency_code = _required_headers(request)
    database = _known_database(runtime.catalog, database_code, request_id)
    number = _service_allowed(runtime.catalog, database, service_code, request_id)
    page, limit = _paging(request, request_id)

    entry = runtime.scenarios.entry(database.code)
    if number in entry.deny_services:
        detail = f"service {service_code} is not connected to {database.code}"
        return json_error(403, "service_not_connected", detail, request_id)

    total = runtime.store.total
    start = (page - 1) * limit
    next_page = page + 1 if start + limit < total else None
    meta = PageMeta(database.code, page, limit, total, next_page, request_id)

    fault = entry.fault if runtime.scenarios.fault_applies(database.code) else Fault.NONE
    fault = _refused_on_this_port(runtime, database.code, fault, request)
    if fault == Fault.REFUSED:
        # A database whose own port is closed, reached through another port of the gateway.
        response = Response(gateway_page(502, "Bad Gateway"), 502, headers={"Content-Type": HTML_UTF8})
        _log_request(database.code, request_id, service_code, agency_code, page, limit, 0, "refused", 502)
        return response
    if fault == Fault.SLOW:
        await asyncio.sleep(entry.fault_options.delay_seconds)

    records: list[bytes] = []
    if fault in _FAULTS_WITH_RECORDS:
        variant = ContentVariant.of(entry, schema_drift=fault == Fault.SCHEMA_DRIFT)
        records = await runtime.store.records(database, start, start + limit, variant)
    response = fault_response(fault, meta, records, entry.fault_options, database.name)
    _log_request(database.code, request_id, service_code, agency_code, page, limit, len(records), fault, response.status_code)
    return response


def _refused_on_this_port(runtime: StubRuntime, database_code: str, fault: Fault, request: Request) -> Fault:
    """Return the fault for a request that reached a flapping, refused database on its own port.

    Such a request came in while the port was open between two closed spells: it is served
    healthy, and the port closes again.
    """
    entry = runtime.scenarios.entry(database_code)
    if entry.fault != Fault.REFUSED or runtime.listeners is None:
        return fault
    server = request.scope.get("server")
    port = server[1] if server else None
    if runtime.listeners.database_on_port(port) != database_code:
        return fault
    runtime.listeners.note_served(database_code)
    return Fault.NONE


def _log_request(
    database_code: str,
    request_id: str,
    service_code: str,
    agency_code: str,
    page: int,
    limit: int,
    record_count: int,
    fault: Fault | str,
    status: int,
) -> None:
    logger.info(
        "Records request %s: database=%s service=%s agency=%s page=%d limit=%d records=%d fault=%s status=%d",
        request_id, database_code, service_code, agency_code, page, limit, record_count, fault, status,
    )  # fmt: skip


def _check_bearer_token(runtime: StubRuntime, request: Request) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _RequestRejected(
            json_error(401, "invalid_token", "a bearer token is required", WWW_Authenticate='Bearer realm="stub"')
        )
    if not runtime.tokens.is_valid(token.strip()):
        raise _RequestRejected(
            json_error(
                401, "invalid_token", "the access token is unknown or expired",
                WWW_Authenticate='Bearer error="invalid_token"',
            )  # fmt: skip
        )


def _required_headers(request: Request) -> tuple[str, str, str]:
    values = []
    for name in ("X-Request-ID", "X-Service-Code", "X-Agency-Code"):
        value = request.headers.get(name, "").strip()
        if not value:
            raise _RequestRejected(json_error(400, "missing_header", f"{name} is required"))
        if not _HEADER_TEXT.match(value):
            raise _RequestRejected(json_error(400, "invalid_header", f"{name} must be printable ASCII without spaces"))
        values.append(value)
    request_id, service_code, agency_code = values
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        detail = f"X-Request-ID is {len(request_id)} characters long, the maximum is {MAX_REQUEST_ID_LENGTH}"
        raise _RequestRejected(json_error(400, "invalid_header", detail))
    return request_id, service_code, agency_code


def _known_database(catalog: Catalog, database_code: str, request_id: str) -> NationalDatabase:
    try:
        return catalog.database(database_code)
    except KeyError:
        raise _RequestRejected(
            json_error(404, "not_found", f"database {database_code!r} is not served here", request_id)
        ) from None


def _service_allowed(catalog: Catalog, database: NationalDatabase, service_code: str, request_id: str) -> int:
    try:
        number = service_number(service_code)
        catalog.service(number)
    except (ValueError, KeyError):
        detail = f"X-Service-Code {service_code!r} is not a public-service code of the catalog (DVC-01 ...)"
        raise _RequestRejected(json_error(400, "unknown_service", detail, request_id)) from None
    readers = {service.number for service in catalog.services_reading(database.code)}
    if number not in readers:
        detail = f"service {service_code} does not read {database.code}"
        raise _RequestRejected(json_error(403, "service_not_allowed", detail, request_id))
    return number


def _paging(request: Request, request_id: str) -> tuple[int, int]:
    page = _integer_parameter(request, "page", 1, 1, None, request_id)
    limit = _integer_parameter(request, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE, request_id)
    return page, limit


def _integer_parameter(
    request: Request, name: str, default: int, minimum: int, maximum: int | None, request_id: str
) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    allowed = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
    problem = f"{name} must be an integer {allowed}, got {raw[:20]!r}"
    try:
        value = int(raw)
    except ValueError:
        raise _RequestRejected(json_error(400, "invalid_parameter", problem, request_id)) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise _RequestRejected(json_error(400, "invalid_parameter", problem, request_id))
    return value


# --- admin ------------------------------------------------------------------------------


def _add_admin_routes(app: FastAPI, runtime: StubRuntime) -> None:
    @app.get("/admin/scenarios")
    async def show_scenarios(request: Request) -> Response:
        rejection = _admin_rejection(runtime, request)
        return rejection or JSONResponse(runtime.scenarios.snapshot())

    @app.put("/admin/scenarios/{database_code}")
    async def set_scenario(database_code: str, request: Request) -> Response:
        rejection = _admin_rejection(runtime, request)
        if rejection is not None:
            return rejection
        if database_code not in {database.code for database in runtime.catalog.databases}:
            return json_error(404, "not_found", f"database {database_code!r} is not in the catalog")
        try:
            entry = parse_database_scenario(database_code, await _json_body(request))
            runtime.scenarios.set_entry(database_code, entry)
        except ScenarioError as error:
            return _invalid_scenario(error)
        await _apply(runtime)
        logger.info("Scenario of %s set: fault=%s flapping=%s", database_code, entry.fault, entry.flapping)
        return JSONResponse({"database": database_code, "scenario": entry.model_dump(mode="json", exclude_defaults=True)})

    @app.post("/admin/scenarios/load")
    async def load(request: Request) -> Response:
        rejection = _admin_rejection(runtime, request)
        if rejection is not None:
            return rejection
        try:
            body = await _json_body(request)
            scenario = _scenario_from_body(runtime, body)
            runtime.scenarios.load(scenario)
        except FileNotFoundError as error:
            return json_error(404, "not_found", str(error))
        except ScenarioError as error:
            return _invalid_scenario(error)
        await _apply(runtime)
        logger.info("Scenario %s loaded: %d databases changed", scenario.name, len(scenario.databases))
        return JSONResponse(runtime.scenarios.snapshot())

    @app.post("/admin/reset")
    async def reset(request: Request) -> Response:
        rejection = _admin_rejection(runtime, request)
        if rejection is not None:
            return rejection
        runtime.scenarios.reset()
        await _apply(runtime)
        logger.info("Scenario reset: every database is healthy")
        return JSONResponse(runtime.scenarios.snapshot())

    @app.get("/admin/ports")
    async def ports(request: Request) -> Response:
        rejection = _admin_rejection(runtime, request)
        if rejection is not None:
            return rejection
        port_map = runtime.listeners.port_map() if runtime.listeners is not None else {}
        return JSONResponse(port_map)


def _admin_rejection(runtime: StubRuntime, request: Request) -> Response | None:
    client = request.client.host if request.client else None
    if runtime.settings.admin_token is None:
        return json_error(403, "admin_disabled", "the admin API is disabled because STUB_ADMIN_TOKEN is not set")
    if not _is_loopback(client):
        logger.warning("Admin request from non-loopback client %s rejected", client)
        return json_error(403, "not_loopback", "the admin API only accepts loopback clients")
    if not admin_token_matches(runtime.settings.admin_token, request.headers.get("X-Admin-Token")):
        logger.warning("Admin request with a missing or wrong X-Admin-Token rejected")
        return json_error(403, "invalid_admin_token", "X-Admin-Token is missing or wrong")
    return None


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ScenarioError([f"body: invalid JSON: {error}"]) from error


def _scenario_from_body(runtime: StubRuntime, body: Any) -> Any:
    if not isinstance(body, dict) or len(body) != 1 or not ({"name", "scenario"} & body.keys()):
        raise ScenarioError(['body: expected {"name": "<scenario name>"} or {"scenario": {...}}'])
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or "/" in name or name.endswith((".yaml", ".yml")):
            raise ScenarioError(['body.name: expected a scenario name such as "appendix-2025", not a path'])
        return load_scenario(body["name"], runtime.catalog, runtime.settings.scenarios_dir)
    return parse_scenario(body["scenario"])


def _invalid_scenario(error: ScenarioError) -> Response:
    logger.info("Invalid scenario rejected: %d problems", len(error.problems))
    body = {"error": "invalid_scenario", "detail": "; ".join(error.problems), "problems": error.problems}
    return JSONResponse(body, status_code=422)


async def _apply(runtime: StubRuntime) -> None:
    if runtime.listeners is not None:
        await runtime.listeners.apply(runtime.scenarios)
