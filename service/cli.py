"""The ``trygg`` command: set up the database, load processes and demo data, serve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from service.api.cli import api_client
from service.auth.cli import account
from service.config import Settings
from service.context import Services
from service.crypto.cli import keys
from service.definitions.catalog import sync_from_files
from service.engine import DefinitionError
from service.logging_setup import configure as configure_logging
from service.migrate import upgrade
from service.people.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo_data
from service.retention.cli import retention
from service.sso.break_glass import break_glass


def _services() -> Services:
    return Services.create(Settings.from_env())


@click.group()
def main() -> None:
    """Trygg i uppdraget."""
    configure_logging("cli")


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    upgrade(_services().db)
    click.echo("Databasen är uppdaterad.")


@main.command("load-processes")
def load_processes() -> None:
    """Load processes/ and forms/; changed files become new versions."""
    services = _services()
    _load(services)


def _load(services: Services) -> None:
    settings = services.settings
    try:
        with services.db.transaction() as session:
            created = sync_from_files(session, settings.processes_dir, settings.forms_dir)
    except DefinitionError as exc:
        click.echo(f"Processerna kunde inte läsas in: {exc}", err=True)
        sys.exit(2)
    for row in created:
        click.echo(f"Ny version: {row.process_id} v{row.version} ({row.sha256[:12]})")
    if not created:
        click.echo("Processerna är oförändrade.")


@main.command("export-processes")
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write processes/ and forms/ into.",
)
def export_processes_command(output: Path) -> None:
    """Write the active version of every process back to files, as stored."""
    from service.definitions.export import export_processes

    services = _services()
    try:
        with services.db.transaction() as session:
            result = export_processes(session, output)
    except (DefinitionError, OSError) as exc:
        click.echo(f"Processerna kunde inte exporteras: {exc}", err=True)
        sys.exit(2)
    for process_id, version in result.processes:
        click.echo(f"Exporterad: {process_id} v{version}")
    click.echo(
        f"{len(result.processes)} processer och {len(result.forms)} formulär skrevs till "
        f"{result.processes_dir} och {result.forms_dir}."
    )


@main.command("demo-data")
def demo_data() -> None:
    """Create demo parties, officials and a user for every role (only into an empty database)."""
    services = _services()
    with services.db.transaction() as session:
        created = load_demo_data(session)
    _print_logins(created)


def _print_logins(created: bool) -> None:
    if not created:
        click.echo("Det finns redan användare; inga demodata skapades.")
        return
    click.echo(f"\nDemoinloggningar (lösenord för alla: {DEMO_PASSWORD}):")
    for login in DEMO_LOGINS:
        click.echo(f"  {login.username:<15} {login.description}")


@main.command()
@click.option("--demo/--no-demo", default=True, help="Load demo data into an empty database.")
def init(demo: bool) -> None:
    """Migrate, load the processes and (by default) the demo data."""
    services = _services()
    upgrade(services.db)
    _load(services)
    if demo:
        with services.db.transaction() as session:
            created = load_demo_data(session)
        _print_logins(created)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--with-worker/--without-worker",
    default=True,
    show_default=True,
    help="Also run the background worker (timers, e-mail, yearly offers) in this process.",
)
def serve(host: str, port: int, workers: int, with_worker: bool) -> None:
    """Serve the application with gunicorn (and, by default, the worker beside it)."""
    import threading

    from service.gunicorn_conf import prepare_multiprocess_dir

    # Before the app is imported: every web process and the worker thread
    # count into one directory, so /metrics adds them all up.
    prepare_multiprocess_dir()
    from service.serve import run_gunicorn
    from service.worker import Worker

    if with_worker:
        # A thread of gunicorn's master process: forked web workers do not
        # inherit it, so exactly one runs — what the embedded SQLite needs.
        background = Worker(_services())
        threading.Thread(target=background.run, name="trygg-worker", daemon=True).start()
    click.echo(f"Trygg i uppdraget körs på http://{host}:{port}/")
    run_gunicorn(host, port, workers)


@main.command()
@click.option(
    "--poll-max", default=1.0, show_default=True, help="Longest sleep between rounds (s)."
)
def worker(poll_max: float) -> None:
    """Fire due timers, run background jobs and the yearly offers, until stopped."""
    import signal

    from service.worker import Worker

    configure_logging("worker")
    services = _services()
    runner = Worker(services, poll_max=poll_max)
    settings = services.settings
    if settings.worker_metrics_port is not None:
        from service.metrics import serve_worker_metrics

        serve_worker_metrics(
            settings.worker_metrics_address, settings.worker_metrics_port, settings.metrics_token
        )
    signal.signal(signal.SIGTERM, lambda *_: runner.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: runner.stop_event.set())
    click.echo(f"Arbetaren {runner.worker_id} startar.")
    runner.run()


@main.group()
def audit() -> None:
    """The audit trail's hash chain."""


@audit.command("seal")
def audit_seal() -> None:
    """Seal every audit event not yet in the chain (the worker does this continuously)."""
    from service.audit.chain import seal_new_events

    services = _services()
    total = 0
    while sealed := seal_new_events(services):
        total += sealed
    click.echo(f"{total} händelser förseglades.")


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the chain; report every edited, inserted or deleted event."""
    from service.audit.chain import verify

    services = _services()
    with services.db.sessions() as session:
        result = verify(session, services.settings.secret_key)
    for problem in result.problems:
        click.echo(f"FEL: {problem}", err=True)
    click.echo(f"{result.checked} förseglade händelser kontrollerade, {len(result.problems)} fel.")
    sys.exit(0 if result.ok else 1)


@main.command()
@click.option("--repair", is_flag=True, help="Make inbox rows and wake-up times match the state.")
def check(repair: bool) -> None:
    """Check that every case's inbox rows and wake-up time match its saved state."""
    from service.cases.consistency import check_cases

    report = check_cases(_services(), repair=repair)
    for problem in report.problems:
        click.echo(f"FEL: {problem}", err=True)
    click.echo(
        f"{report.cases} ärenden kontrollerade, {len(report.problems)} fel"
        + (f", {report.repaired} lagade." if repair else ".")
    )
    sys.exit(0 if report.ok or repair else 1)


@main.command("fire-timers")
def fire_timers() -> None:
    """Fire every timer that is due now (one pass)."""
    from service.cases.timers import fire_due_timers

    services = _services()
    fired = fire_due_timers(services)
    click.echo(f"{fired} ärenden väcktes.")


@main.command()
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new (or empty) directory for the backup.",
)
def backup(output: Path) -> None:
    """Back up the database and the attachments, with a manifest of counts and SHA-256s."""
    from service.backup import BackupError, create_backup, describe_backup

    try:
        manifest = create_backup(Settings.from_env(), output)
    except BackupError as exc:
        click.echo(f"Säkerhetskopian gjordes inte: {exc}", err=True)
        sys.exit(2)
    click.echo("\n".join(describe_backup(output, manifest)))


@main.command()
@click.option(
    "--input",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory written by trygg backup.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Move a non-empty database and attachments directory aside instead of refusing.",
)
def restore(source: Path, force: bool) -> None:
    """Restore a backup into an empty database and attachments directory, then verify it."""
    from service.backup import BackupError, describe_restore, restore_backup

    try:
        report = restore_backup(Settings.from_env(), source, force=force)
    except BackupError as exc:
        click.echo(f"Återställningen gjordes inte: {exc}", err=True)
        sys.exit(2)
    click.echo("\n".join(describe_restore(report)))
    sys.exit(0 if report.ok else 1)


main.add_command(api_client)
main.add_command(keys)
main.add_command(account)
main.add_command(break_glass)
main.add_command(retention)

if __name__ == "__main__":
    main()
