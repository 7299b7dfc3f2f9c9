"""The ``connector`` command: serve the app, run the sandbox, manage the store."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import click

from . import __version__
from .config import PREFIX
from .errors import ConfigError, ConnectorError


def _app(overrides: dict[str, t.Any] | None = None) -> t.Any:
    from . import create_app

    try:
        return create_app(overrides)
    except (ConfigError, ConnectorError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="connector")
def cli() -> None:
    """TikTok triggers and actions for Zapier, Make and n8n.

    Settings come from CONNECTOR_* environment variables (see the README).
    """


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="CONNECTOR_HOST")
@click.option("--port", default=8000, show_default=True, type=int, envvar="CONNECTOR_PORT")
# A process per core: one Python process runs its Python code on one core at a time.
@click.option(
    "--workers",
    default=os.cpu_count() or 1,
    show_default="one per core",
    type=click.IntRange(1),
    envvar="CONNECTOR_WORKERS",
    help="Worker processes serving requests.",
)
# Each request mostly waits on upstream (tens to hundreds of ms), so threads, not cores,
# bound how many callers a worker serves at once.
@click.option(
    "--threads",
    default=32,
    show_default=True,
    type=click.IntRange(1),
    envvar="CONNECTOR_THREADS",
    help="Threads per worker: requests each worker serves at once.",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Also start the built-in sandbox upstream and use it: any API key works, "
    "no network or real key needed.",
)
def serve(host: str, port: int, workers: int, threads: int, sandbox: bool) -> None:
    """Serve the connector with a production WSGI server (granian, a worker per core)."""
    from .serving import BackgroundServer, serve_forever, shared_metrics

    # Before any app exists: prometheus_client picks its mode when first imported.
    metrics_folder = shared_metrics()
    overrides: dict[str, t.Any] = {}
    upstream = None
    if sandbox:
        from .sandbox import base_urls, create_sandbox_app

        upstream = BackgroundServer(create_sandbox_app()).start()
        overrides = {**base_urls(upstream.url), "SANDBOX": True, **_sandbox_defaults()}
    app = _app(overrides)
    # The workers build their apps from the environment: the same settings as this one.
    os.environ.update({f"{PREFIX}{name}": _env_value(value) for name, value in overrides.items()})
    if upstream is not None:
        click.echo(
            f"SANDBOX MODE: upstream is the built-in sandbox at {upstream.url} "
            "(generated data, any API key works, nothing leaves this machine)."
        )
    settings = app.extensions["connector"].settings
    click.echo(
        f"Connector listening on http://{host}:{port} with {workers} worker(s) of {threads}"
        f" threads (store: {settings.database_url})"
    )
    click.echo(_console_line(host, port, settings.admin_token, overrides.get("ADMIN_TOKEN")))
    scheduler = None
    interval = settings.poll_interval
    if interval > 0:
        scheduler = app.extensions["connector"].scheduler(interval).start()
        click.echo(f"Polling webhook subscriptions every {interval:g} s.")
    # granian stops its workers on SIGINT or SIGTERM (each writes what it buffered) and
    # returns; then this process writes its own and closes the store.
    try:
        serve_forever(host, port, workers=workers, threads=threads)
    finally:
        if scheduler is not None:
            scheduler.stop()
        app.extensions["connector"].close()
        if upstream is not None:
            upstream.stop()
        if metrics_folder is not None:
            metrics_folder.cleanup()


def _env_value(value: t.Any) -> str:
    """A setting as ``CONNECTOR_*`` holds it (``true``/``false`` for a flag)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# The sandbox's own secret key: it seals only keys for the sandbox, where any key works.
# Kept the same across runs, so that the demo subscription of an earlier run still opens.
SANDBOX_SECRET_KEY = "sandbox-only-not-secret-7c1e9a4f2b6d8e03"


def _sandbox_defaults() -> dict[str, t.Any]:
    """What the console's sandbox panel needs, where the environment does not say otherwise:
    an admin token made up for this run (printed), a secret key for the demo webhook, and
    webhook targets on this machine."""
    import os
    import secrets

    defaults = {
        "ADMIN_TOKEN": secrets.token_urlsafe(16),
        "SECRET_KEY": SANDBOX_SECRET_KEY,
        "ALLOW_PRIVATE_TARGETS": True,
    }
    return {
        name: value for name, value in defaults.items() if f"CONNECTOR_{name}" not in os.environ
    }


def _console_line(host: str, port: int, token: str | None, made_up: str | None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{shown}:{port}/console/"
    if token is None:
        return "Operator console: closed (set CONNECTOR_ADMIN_TOKEN to open it)."
    if made_up is not None:
        return f"Operator console: {url} (admin token for this run: {made_up})"
    return f"Operator console: {url} (sign in with CONNECTOR_ADMIN_TOKEN)"


@cli.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8010, show_default=True, type=int)
def sandbox_command(host: str, port: int) -> None:
    """Serve only the sandbox upstream (point CONNECTOR_<PROVIDER>_BASE_URL at it)."""
    from .sandbox import create_sandbox_app
    from .serving import BackgroundServer

    server = BackgroundServer(create_sandbox_app(), host, port)
    click.echo(f"Sandbox upstream on {server.url}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


@cli.command()
def poll() -> None:
    """Run one poll cycle for webhook subscriptions, then exit (for cron).

    Reads each watched handle once, queues new videos, and attempts every due delivery,
    including any left in flight by a process that died.
    """
    from .hooks.poller import run_cycle

    app = _app()
    try:
        report = run_cycle(app.extensions["connector"].poll_context)
    except ConnectorError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(" ".join(f"{key}={value}" for key, value in report.as_dict().items()))


@cli.command("rotate-key")
def rotate_key() -> None:
    """Re-seal the stored API keys and signing secrets with CONNECTOR_SECRET_KEY.

    Set the new key as CONNECTOR_SECRET_KEY and the old one as CONNECTOR_SECRET_KEY_PREVIOUS.
    Every start-up does the same; this command does it without serving. Remove
    CONNECTOR_SECRET_KEY_PREVIOUS once every worker runs with the new key.
    """
    app = _app()
    rt = app.extensions["connector"]
    if rt.settings.secret_key is None:
        raise click.ClickException("Set CONNECTOR_SECRET_KEY to the new key.")
    done = rt.key_check
    click.echo(f"resealed={done.resealed} unreadable={done.unreadable}")
    if done.unreadable:
        raise click.ClickException(
            f"{done.unreadable} stored secrets open with neither key; their subscriptions "
            "cannot be delivered until they are removed or the key that sealed them is given."
        )


@cli.group("dead-letters")
def dead_letters() -> None:
    """Deliveries that were given up on."""


@dead_letters.command("list")
def dead_letters_list() -> None:
    """List every dead letter."""
    app = _app()
    for item in app.extensions["connector"].store.dead_letters():
        click.echo(
            f"{item.id}\t{item.subscription_id}\t{item.video_id}\tattempts={item.attempts}"
            f"\t{item.last_status or '-'}\t{item.last_error or ''}"
        )


@dead_letters.command("replay")
@click.argument("ids", nargs=-1, type=int)
def dead_letters_replay(ids: tuple[int, ...]) -> None:
    """Queue dead letters again, due now: the given IDS, or all of them."""
    import time

    app = _app()
    count = app.extensions["connector"].store.replay(
        list(ids) or None, tenant=None, now=time.time()
    )
    click.echo(f"replayed={count}")


@cli.command("export")
@click.argument("target", type=click.Choice(["openapi", "zapier", "make", "n8n", "http", "all"]))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (default: the target's folder in this checkout).",
)
@click.option(
    "--manifest",
    "manifest_path",
    default="manifest.json",
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
def export(target: str, out: Path | None, manifest_path: Path) -> None:
    """Generate a platform description from manifest.json and the schemas.

    openapi: the OpenAPI document; zapier: the Zapier CLI app; make: the Make custom app;
    n8n: the n8n community node package and workflow templates; http: ready-to-paste settings
    for each platform's generic HTTP module; all: every one, each into its default folder.
    manifest.json is only read: the schemas' part of it is added at export time.
    """
    from . import exports

    targets = list(exports.TARGETS) if target == "all" else [target]
    for name in targets:
        folder = out if out is not None and target != "all" else Path(exports.TARGETS[name][1])
        for path in exports.write(exports.render(name, manifest_path), folder):
            click.echo(f"wrote {path}")


@cli.group()
def db() -> None:
    """Manage the state store."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's schema (also done automatically at start-up)."""
    app = _app()
    click.echo(f"Store ready: {app.extensions['connector'].settings.database_url}")


def main() -> None:
    cli.main(prog_name="connector")
