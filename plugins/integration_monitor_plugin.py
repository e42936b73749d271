"""Airflow plugin that serves the integration monitor's dashboard from the API server.

Airflow imports this file in every component, so it only registers: the dashboard's FastAPI
application is built on its first request, inside the API server, and no other component
imports FastAPI, Jinja2 or the status store for it.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/integration-monitor"


class LazyDashboardApp:
    """ASGI application that builds the dashboard on the first request and then delegates to it."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._app is None:
            from integration_monitor.dashboard.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class IntegrationMonitorPlugin(AirflowPlugin):
    name = "integration_monitor"
    fastapi_apps = [
        {"app": LazyDashboardApp(), "url_prefix": URL_PREFIX, "name": "Integration monitor dashboard"},
    ]
    # The view opens inside the Airflow UI (an iframe under /plugin/integration-monitor), so
    # the browser sends the Airflow session cookie that the dashboard checks.
    external_views = [
        {
            "name": "Giám sát DVC",
            "href": f"{URL_PREFIX}/",
            "url_route": "integration-monitor",
            "destination": "nav",
            "nav_top_level": True,
            "icon": f"{URL_PREFIX}/static/icon.svg",
        },
    ]
