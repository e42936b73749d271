"""Request language, view context and HTML rendering shared by the pages."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from integration_monitor.dashboard import formatting, labels, palette
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.i18n import DEFAULT_LANGUAGE, LANGUAGES, resolve_language

TEMPLATES_DIR = Path(__file__).parent / "templates"
LANGUAGE_COOKIE = "integration_monitor_lang"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def request_language(request: Request) -> str:
    """Return ``?lang=`` if valid, else the remembered choice, else the default (Vietnamese)."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    try:
        return resolve_language(None)
    except ValueError:
        return DEFAULT_LANGUAGE


def view_context(request: Request, language: str | None = None) -> ViewContext:
    state = request.app.state.dashboard
    return ViewContext(
        catalog=state.catalog,
        factory=state.factory,
        language=language or request_language(request),
        now=dt.datetime.now(dt.UTC),
    )


def refresh_history(request: Request) -> bool:
    """Sum new raw rows into the hourly tables, at most once a minute per process.

    Return False while older rows remain to be summed.
    """
    state = request.app.state.dashboard
    result = state.throttle.maybe_refresh(state.factory)
    return result is None or result.complete


def link(request: Request, route: str, query: dict[str, Any] | None = None, /, **path_params: Any) -> str:
    """Return the path of a named route under the plugin's mount point, with an optional query."""
    path = request.scope.get("root_path", "") + str(request.app.url_path_for(route, **path_params))
    pairs = {key: value for key, value in (query or {}).items() if value is not None}
    return path + (f"?{urlencode(pairs)}" if pairs else "")


def language_switch(request: Request, language: str) -> str:
    other = "en" if language == "vi" else "vi"
    params = dict(request.query_params)
    params["lang"] = other
    return request.url.path + "?" + urlencode(params)


def render(request: Request, template: str, ctx: ViewContext, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    language = ctx.language

    def ratio(value: float | None, digits: int = 1) -> str:
        return formatting.format_ratio(value, language, digits)

    page = environment().get_template(template).render(
        request=request,
        ctx=ctx,
        _=ctx._,
        lang=language,
        other_language="en" if language == "vi" else "vi",
        switch_url=language_switch(request, language),
        link=lambda route, query=None, /, **params: link(request, route, query, **params),
        palette_css=Markup(palette.css_variables()),
        time=lambda moment: formatting.format_time(moment, language),
        date=lambda day: formatting.format_date(day, language),
        ratio=ratio,
        number=lambda value, digits=0: formatting.format_number(value, language, digits),
        duration=lambda seconds: formatting.format_duration(seconds, language),
        status_label=lambda status: labels.database_status_label(ctx, status),
        kind_label=lambda kind: labels.failure_kind_label(ctx, kind),
        block_label=lambda kind: labels.block_kind_label(ctx, kind),
        state_label=lambda state: labels.timeline_state_label(ctx, state),
        **values,
    )
    response = HTMLResponse(page, status_code=status_code)
    requested = request.query_params.get("lang")
    if requested in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, requested, max_age=LANGUAGE_COOKIE_AGE,
                            path=request.scope.get("root_path") or "/", httponly=True, samesite="lax")
    return response
