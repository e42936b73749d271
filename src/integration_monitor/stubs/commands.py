"""``integration-monitor stubs``: run the stub server and change its scenario at run time."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import requests
import yaml

from integration_monitor.i18n import LANGUAGES, translator
from integration_monitor.signatures import KeyAlgorithm
from integration_monitor.stubs.auth import ADMIN_TOKEN_ENV, MissingCredentialsError, credentials_from_environment
from integration_monitor.stubs.scenario import DEFAULT_SCENARIO, BlankStyle, Fault, ScenarioError, SignatureMode
from integration_monitor.stubs.settings import (
    DEFAULT_CACHE_BLOCKS,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SEED,
    DEFAULT_TOKEN_LIFETIME,
    DEFAULT_TOTAL,
    StubSettings,
)

logger = logging.getLogger("integration_monitor.stubs")

ADMIN_TIMEOUT_SECONDS = 30
CANARY_ENV = "STUB_CANARY_PREFIX"


def register(subparsers: argparse._SubParsersAction) -> None:
    stubs = subparsers.add_parser("stubs", help="stub national-database endpoints for tests and demos")
    commands = stubs.add_subparsers(dest="stubs_command", required=True)
    _register_serve(commands)
    _register_scenario(commands)

    ports = commands.add_parser("ports", help="print each database's base URL from a running stub server")
    _add_target_options(ports)
    ports.set_defaults(handler=run_ports)


def _register_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="start the stub server",
        description=(
            f"Serve every catalog database. The client secret comes from STUB_CLIENT_SECRET "
            f"(client id from STUB_CLIENT_ID, default monitor); the admin API needs {ADMIN_TOKEN_ENV}."
        ),
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT,
        help="main port; database number i (0-based, catalog order) also listens on port+1+i (default: %(default)s)",
    )  # fmt: skip
    serve.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the synthetic records (default: %(default)s)")
    serve.add_argument("--total", type=int, default=DEFAULT_TOTAL, help="records per database (default: %(default)s)")
    serve.add_argument(
        "--scenario", default=None,
        help=f"scenario name in include/scenarios or path to a YAML file (default: {DEFAULT_SCENARIO} if present)",
    )  # fmt: skip
    serve.add_argument("--catalog", type=Path, default=None, help="catalog folder (default: include/appendix_data)")
    serve.add_argument(
        "--pki-dir", type=Path, default=None,
        help="folder of the test PKI: loaded if it contains ca.pem, else generated and written there",
    )  # fmt: skip
    serve.add_argument(
        "--key-algorithm", choices=[algorithm.value for algorithm in KeyAlgorithm], default=KeyAlgorithm.ECDSA_P256.value,
        help="key of the JSON record signer when the PKI is generated (default: %(default)s)",
    )  # fmt: skip
    serve.add_argument(
        "--token-lifetime", type=int, default=DEFAULT_TOKEN_LIFETIME,
        help="lifetime of access tokens in seconds (default: %(default)s)",
    )  # fmt: skip
    serve.add_argument(
        "--cache-blocks", type=int, default=DEFAULT_CACHE_BLOCKS,
        help="signed blocks of 100 records kept in memory (default: %(default)s)",
    )  # fmt: skip
    serve.add_argument(
        "--dev-credentials", action="store_true",
        help="without STUB_CLIENT_SECRET, accept client monitor with secret monitor-dev-secret",
    )  # fmt: skip
    serve.add_argument(
        "--warm-up", action="store_true",
        help="build and sign every record in the background after start-up (uses one core for minutes)",
    )  # fmt: skip
    serve.add_argument(
        "--canary", default=os.environ.get(CANARY_ENV) or None, metavar="PREFIX",
        help="replace every personal field's value with PREFIX, the record index in six digits and the "
        f"original value, so that a leak test can search for them (default: ${CANARY_ENV}, unset: off)",
    )  # fmt: skip
    serve.add_argument("--print-ports", action="store_true", help="print the port map as JSON and exit")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=run_serve)


def _register_scenario(commands: argparse._SubParsersAction) -> None:
    scenario = commands.add_parser("scenario", help="show or change the scenario of a running stub server")
    actions = scenario.add_subparsers(dest="scenario_command", required=True)

    set_parser = actions.add_parser(
        "set", help="replace one database's scenario entry (options not given are healthy)"
    )
    set_parser.add_argument("database", help="database code, e.g. dat_dai")
    set_parser.add_argument("--fault", choices=[fault.value for fault in Fault], default=None)
    set_parser.add_argument("--flapping", action="store_true", help="apply the fault to every other request")
    set_parser.add_argument("--delay-seconds", type=float, default=None, help="delay of the slow fault, in seconds")
    set_parser.add_argument("--retry-after", type=int, default=None, help="Retry-After of rate_limited, in seconds")
    set_parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW", help="schema drift: rename a field")
    set_parser.add_argument("--drop", action="append", default=[], metavar="FIELD", help="schema drift: drop a field")
    set_parser.add_argument("--duplicate-share", type=float, default=None, help="share of duplicated records, 0..1")
    set_parser.add_argument("--size-mb", type=float, default=None, help="body size of the oversized fault, in MiB")
    set_parser.add_argument("--signature", choices=[mode.value for mode in SignatureMode], default=None)
    set_parser.add_argument("--signature-share", type=float, default=None, help="share of records with the signature fault")
    set_parser.add_argument("--deny-service", type=int, action="append", default=[], metavar="N", help="reject service N with 403")
    set_parser.add_argument(
        "--blank", action="append", default=[], metavar="FIELDS:SHARE[:STYLE]",
        help="completeness: blank comma-separated FIELDS in SHARE of records, STYLE "
        f"{'|'.join(style.value for style in BlankStyle)} (default mixed)",
    )  # fmt: skip
    _add_target_options(set_parser)
    set_parser.set_defaults(handler=run_scenario_set)

    load = actions.add_parser("load", help="load a whole scenario by name or from a YAML file")
    load.add_argument("scenario", help="scenario name in include/scenarios, or path to a YAML file")
    _add_target_options(load)
    load.set_defaults(handler=run_scenario_load)

    show = actions.add_parser("show", help="print the scenario in force")
    show.add_argument("database", nargs="?", default=None, help="only this database")
    _add_target_options(show)
    show.set_defaults(handler=run_scenario_show)

    reset = actions.add_parser("reset", help="make every database healthy")
    _add_target_options(reset)
    reset.set_defaults(handler=run_scenario_reset)


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help="stub server address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="stub server main port (default: %(default)s)")
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the messages (default: vi)")


# --- serve ------------------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    _configure_logging(args.log_level)
    from integration_monitor.catalog.errors import CatalogError
    from integration_monitor.catalog.loader import load_catalog

    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as error:
        print(f"error: invalid catalog: {error}", file=sys.stderr)
        return 2

    if args.print_ports:
        if args.port == 0:
            print("error: --print-ports needs a fixed --port, not 0", file=sys.stderr)
            return 2
        base = f"http://{args.host}"
        ports = {database.code: f"{base}:{args.port + 1 + number}" for number, database in enumerate(catalog.databases)}
        print(json.dumps(ports, indent=2))
        return 0

    try:
        credentials = credentials_from_environment(args.dev_credentials)
        scenario = _startup_scenario(args.scenario, catalog)
        settings = StubSettings(
            credentials=credentials,
            admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None,
            host=args.host,
            port=args.port,
            seed=args.seed,
            total=args.total,
            token_lifetime_seconds=args.token_lifetime,
            key_algorithm=KeyAlgorithm(args.key_algorithm),
            pki_dir=args.pki_dir,
            cache_blocks=args.cache_blocks,
            warm_up=args.warm_up,
            canary_prefix=args.canary,
        )
    except (MissingCredentialsError, ScenarioError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from integration_monitor.stubs.server import StubServer

    server = StubServer(catalog, settings, scenario)
    try:
        asyncio.run(_serve_until_signal(server))
    except OSError as error:
        print(f"error: cannot listen on {args.host}: {error}", file=sys.stderr)
        return 1
    return 0


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # uvicorn logs each listener's start and stop; the stub server logs its own summary.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def _startup_scenario(name_or_path: str | None, catalog: Any) -> Any:
    from integration_monitor.stubs.scenario import load_scenario

    if name_or_path is not None:
        return load_scenario(name_or_path, catalog)
    try:
        return load_scenario(DEFAULT_SCENARIO, catalog)
    except FileNotFoundError as error:
        logger.warning("Default scenario not loaded (%s): every database starts healthy", error)
        return None


async def _serve_until_signal(server: Any) -> None:
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, server.request_stop)

    def print_ports(running: Any) -> None:
        print(f"main: {running.base_url}")
        for code, url in running.port_map().items():
            print(f"{code}: {url}")
        sys.stdout.flush()

    await server.serve(on_ready=print_ports)


# --- admin client -----------------------------------------------------------------------


class AdminError(Exception):
    pass


def _admin_request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    token = os.environ.get(ADMIN_TOKEN_ENV)
    if not token:
        raise AdminError(f"{ADMIN_TOKEN_ENV} is not set: export the admin token the stub server was started with")
    url = f"http://{args.host}:{args.port}{path}"
    session = requests.Session()
    session.trust_env = False  # the server is local; a proxy from the environment must not be used
    try:
        response = session.request(
            method, url, headers={"X-Admin-Token": token}, json=body, timeout=ADMIN_TIMEOUT_SECONDS
        )
    except requests.ConnectionError as error:
        raise AdminError(f"cannot reach the stub server at {url}: is `integration-monitor stubs serve` running?") from error
    except requests.Timeout as error:
        raise AdminError(f"the stub server at {url} timed out after {ADMIN_TIMEOUT_SECONDS} s") from error
    finally:
        session.close()

    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code != 200:
        detail = payload.get("detail") if isinstance(payload, dict) else response.text[:200]
        raise AdminError(f"{method} {path} failed with HTTP {response.status_code}: {detail}")
    return payload


def _run_admin(args: argparse.Namespace, action: Any) -> int:
    try:
        action()
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2))


def run_ports(args: argparse.Namespace) -> int:
    return _run_admin(args, lambda: _print_json(_admin_request(args, "GET", "/admin/ports")))


def run_scenario_show(args: argparse.Namespace) -> int:
    def show() -> None:
        snapshot = _admin_request(args, "GET", "/admin/scenarios")
        if args.database is None:
            _print_json(snapshot)
            return
        if args.database not in snapshot["databases"]:
            raise AdminError(f"database {args.database!r} is not served by this stub server")
        _print_json({args.database: snapshot["databases"][args.database]})

    return _run_admin(args, show)


def run_scenario_set(args: argparse.Namespace) -> int:
    def set_entry() -> None:
        entry = scenario_entry_from_args(args)
        result = _admin_request(args, "PUT", f"/admin/scenarios/{args.database}", entry)
        _ = translator("stubs", args.lang)
        print(_("Scenario of {database} changed.", database=args.database))
        _print_json(result["scenario"])

    return _run_admin(args, set_entry)


def run_scenario_load(args: argparse.Namespace) -> int:
    def load() -> None:
        path = Path(args.scenario)
        looks_like_path = "/" in args.scenario or args.scenario.endswith((".yaml", ".yml"))
        if looks_like_path:
            if not path.is_file():
                raise AdminError(f"scenario file {path} not found")
            body = {"scenario": yaml.safe_load(path.read_text(encoding="utf-8"))}
        else:
            body = {"name": args.scenario}
        result = _admin_request(args, "POST", "/admin/scenarios/load", body)
        _ = translator("stubs", args.lang)
        changed = sum(1 for entry in result["databases"].values() if entry)
        print(_("Scenario {name} loaded: {count} databases not healthy.", name=result["name"], count=changed))

    return _run_admin(args, load)


def run_scenario_reset(args: argparse.Namespace) -> int:
    def reset() -> None:
        _admin_request(args, "POST", "/admin/reset")
        _ = translator("stubs", args.lang)
        print(_("Every database is healthy again."))

    return _run_admin(args, reset)


def scenario_entry_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Build one database's scenario entry (as JSON) from ``stubs scenario set`` options."""
    entry: dict[str, Any] = {}
    if args.fault is not None:
        entry["fault"] = args.fault
    if args.flapping:
        entry["flapping"] = True
    if args.deny_service:
        entry["deny_services"] = args.deny_service
    if args.signature is not None or args.signature_share is not None:
        entry["signature"] = {"mode": args.signature or SignatureMode.NONE.value}
        if args.signature_share is not None:
            entry["signature"]["share"] = args.signature_share
    if args.blank:
        entry["completeness"] = [_completeness_rule(text) for text in args.blank]

    options: dict[str, Any] = {}
    for name in ("delay_seconds", "retry_after", "duplicate_share", "size_mb"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    if args.rename:
        options["rename"] = dict(_rename_pair(text) for text in args.rename)
    if args.drop:
        options["drop"] = args.drop
    if options:
        entry["fault_options"] = options
    return entry


def _rename_pair(text: str) -> tuple[str, str]:
    old, separator, new = text.partition("=")
    if not separator or not old or not new:
        raise ValueError(f"--rename {text!r} is invalid: expected OLD=NEW")
    return old, new


def _completeness_rule(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise ValueError(f"--blank {text!r} is invalid: expected FIELDS:SHARE[:STYLE], e.g. XML7_NGAY_RA:0.3:null")
    try:
        share = float(parts[1])
    except ValueError:
        raise ValueError(f"--blank {text!r} is invalid: SHARE {parts[1]!r} is not a number") from None
    rule: dict[str, Any] = {"fields": parts[0].split(","), "missing_share": share}
    if len(parts) == 3:
        rule["style"] = parts[2]
    return rule
