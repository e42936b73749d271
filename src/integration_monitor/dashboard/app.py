"""The dashboard's FastAPI application, mounted by the Airflow plugin under ``/integration-monitor``.

Airflow does not protect plugin applications, so the application itself requires an
authenticated Airflow user on every route (``requires_authenticated`` from Airflow's API).
Without a valid token a JSON route returns 401 or 403, and any other route redirects to
Airflow's login page. FastAPI's own ``/docs`` and ``/openapi.json`` are switched off because
they would be public; ``/api/openapi.json`` serves the schema behind the same check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from integration_monitor.catalog.models import Catalog
from integration_monitor.dashboard.aggregate import RefreshThrottle

log = logging.getLogger(__name__)

URL_PREFIX = "/integration-monitor"
API_PREFIX = "/api/"
STATIC_DIR = Path(__file__).parent / "static"
REFRESH_INTERVAL_SECONDS = 60.0
# Raw rows summed per request at most; a larger backlog (after a bulk import) is summed over
# several requests or at once by ``integration-monitor dashboard refresh``.
REFRESH_MAX_ROWS = 200_000


@dataclass
class DashboardState:
    catalog: Catalog
    factory: sessionmaker[Session]
    throttle: RefreshThrottle


def authenticated_user():  # type: ignore[no-untyped-def]
    """Return Airflow's dependency that rejects requests without a valid Airflow token."""
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return requires_authenticated()


# One instance, so that tests can override it with ``app.dependency_overrides``.
require_authenticated = authenticated_user()


def create_app(store_url: str | None = None, catalog: Catalog | None = None) -> FastAPI:
    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.dashboard import api, downloads, pages
    from integration_monitor.store.engine import session_factory

    app = FastAPI(
        title="Integration monitor dashboard",
        description="Status of the national databases and of the 25 data-driven online public services. "
                    "Every route needs an authenticated Airflow user: a Bearer token from `POST /auth/token` "
                    "or the `_token` cookie of the Airflow UI.",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(require_authenticated)],
    )
    app.state.dashboard = DashboardState(
        catalog=catalog or load_catalog_cached(),
        factory=session_factory(store_url),
        throttle=RefreshThrottle(REFRESH_INTERVAL_SECONDS, REFRESH_MAX_ROWS),
    )
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(downloads.router)

    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(OperationalError, _handle_store_error)
    app.add_exception_handler(ProgrammingError, _handle_store_error)
    return app


def is_api_request(request: Request) -> bool:
    return _relative_path(request).startswith(API_PREFIX)


def _relative_path(request: Request) -> str:
    root = request.scope.get("root_path", "")
    path = request.url.path
    return path[len(root):] if root and path.startswith(root) else path


def login_url(request: Request) -> str:
    """Return Airflow's login page, coming back to the requested page afterwards."""
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=next_url)
    except Exception:  # noqa: BLE001 - any auth manager problem falls back to the simple auth manager's page
        log.warning("Could not ask the auth manager for its login URL; using /auth/login", exc_info=True)
        return "/auth/login?" + urlencode({"next": next_url})


async def _handle_http_exception(request: Request, error: StarletteHTTPException) -> Response:
    if error.status_code in (401, 403) and not is_api_request(request):
        return RedirectResponse(login_url(request), status_code=303)
    if error.status_code == 404 and not is_api_request(request):
        from integration_monitor.dashboard.pages import not_found_page

        return not_found_page(request, str(error.detail))
    return await http_exception_handler(request, error)


async def _handle_store_error(request: Request, error: Exception) -> Response:
    log.error("Status store query failed on %s: %s", request.url.path, error)
    message = ("The status store is unavailable or not upgraded. "
               "Run `integration-monitor store upgrade` and check INTEGRATION_MONITOR_STORE_URL.")
    if is_api_request(request):
        return JSONResponse({"detail": message}, status_code=503)
    return HTMLResponse(f"<!doctype html><html lang=\"en\"><title>503</title><main><h1>503</h1><p>{message}</p>"
                        "</main></html>", status_code=503)
