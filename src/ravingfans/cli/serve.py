"""`ravingfans serve`: run the staff web app on the configured database."""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading
from types import FrameType
from typing import Any

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info
from ravingfans.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Server processes sharing the port (one per CPU core uses them all)."),
) -> None:
    """Run the web app (customer list, search, profiles) until stopped with Ctrl+C."""
    run_server(context.settings().database_url, host, port, workers=workers)


def _listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket, or a ConfigError saying why there cannot be one."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc}", hint="Check --host.") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}",
                          hint="Is another server using that port? Choose another with --port.") from None
    sock.set_inheritable(True)
    return sock


def _run_workers(settings: Any, sock: socket.socket, workers: int, options: dict[str, Any]) -> None:
    """Serve with ``workers`` processes on one socket until Ctrl+C or SIGTERM (uvicorn's supervisor)."""
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    for name, value in settings.model_dump().items():  # the children read their settings from here
        secret = getattr(value, "get_secret_value", None)
        os.environ[f"RAVINGFANS_{name.upper()}"] = str(secret() if secret else value)
    config = uvicorn.Config("ravingfans.web.app:app_from_environment", factory=True, workers=workers, **options)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def _has_users(database: Any) -> bool:
    """Whether any active user exists to sign in with."""
    from ravingfans.services.accounts import count_active_users

    with database.session() as session:
        return count_active_users(session) > 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Stop(Exception):
    """SIGTERM arrived outside uvicorn's own handling (before start-up, or re-raised after shutdown)."""


def _stop_quietly(_signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into _Stop so the server ends like after Ctrl+C."""
    raise _Stop


def run_server(database_url: str, host: str, port: int, *, workers: int = 1, **overrides: Any) -> None:
    """Serve the web app on host:port over ``database_url``; refuses unsafe settings or an old schema.

    ``overrides`` replace settings for this server only (the demo passes its business name and zone).
    With ``workers`` > 1, that many processes share the listening socket (Python runs one request's
    code at a time per process, so one process uses one core); each builds its own app from the
    environment, which is why the settings are handed over as ``RAVINGFANS_*`` variables.
    """
    import uvicorn

    from ravingfans.config import get_settings
    from ravingfans.db import open_database
    from ravingfans.web import create_app

    settings = get_settings(database_url=database_url, **overrides)
    settings.check_production()
    database = open_database(database_url)  # SchemaOutOfDate unless `ravingfans init` was run
    try:
        app = create_app(settings, database=database)
        sock = _listen(host, port)
        shown = f"[{host}]" if ":" in host else host
        info(f"Serving {settings.business_name} at http://{shown}:{port}/ (Ctrl+C to stop)")
        if not _has_users(database):
            info("Nobody can sign in yet: add the first owner with "
                 "`ravingfans user add EMAIL --role owner`, then sign in at /login.")
        if not _is_loopback(host):
            info("Reachable from other machines: put it behind HTTPS so passwords and session cookies stay private.")
        # X-Forwarded-For/-Proto are believed only from the proxies named in RAVINGFANS_TRUSTED_PROXIES, so
        # sign-in throttling sees the real client and cookies are Secure behind an HTTPS proxy.
        trusted = settings.trusted_proxies.strip()
        # No access log: its lines carry query strings, and searches put names, e-mails and phones there.
        options: dict[str, Any] = {"log_level": "info", "access_log": False, "server_header": False,
                                   "proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None,
                                   "lifespan": "on"}
        if workers > 1:
            _run_workers(settings, sock, workers, options)
            info("Stopped.")
            return
        config = uvicorn.Config(app, **options)
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _stop_quietly) if in_main else None
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except (KeyboardInterrupt, _Stop):
            pass  # Ctrl+C or SIGTERM: uvicorn shut down gracefully, then re-raised it; stopping is success
        finally:
            sock.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        info("Stopped.")
    finally:
        database.dispose()
