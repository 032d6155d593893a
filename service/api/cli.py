"""``trygg api-client``: create, revoke and list the API's system clients."""

from __future__ import annotations

import sys

import click

from service.api.tokens import ApiClientError, create_client, list_clients, revoke_client
from service.config import Settings
from service.db import Database


def _database() -> Database:
    return Database(Settings.from_env().database_url)


@click.group("api-client")
def api_client() -> None:
    """System clients of the API (the alarm centre) and their tokens."""


@api_client.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Create a client and print its token (shown only this once)."""
    database = _database()
    try:
        with database.transaction() as session:
            created = create_client(session, name)
            client_name = created.client.name
    except ApiClientError as exc:
        click.echo(f"Klienten skapades inte: {exc}", err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    # Printed only after the commit, so the token shown is one that works.
    # The warning goes to stderr and the token alone to stdout, so that it can
    # be piped straight into a secret store.
    click.echo(
        f"Token för {client_name}. Den visas bara nu och kan inte tas fram igen: "
        "spara den säkert (t.ex. i en lösenordshanterare) och skicka den aldrig okrypterat.",
        err=True,
    )
    click.echo(created.token)


@api_client.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a client's token at once."""
    database = _database()
    try:
        with database.transaction() as session:
            client = revoke_client(session, name)
            client_name, revoked_at = client.name, client.revoked_at
    except ApiClientError as exc:
        click.echo(f"Ingen klient återkallades: {exc}", err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    click.echo(f"{client_name} är återkallad sedan {revoked_at:%Y-%m-%d %H:%M} (UTC).")


@api_client.command("list")
def list_() -> None:
    """List the clients (never their tokens)."""
    database = _database()
    try:
        with database.transaction() as session:
            rows = [(c.name, c.scopes, c.created_at, c.revoked_at) for c in list_clients(session)]
    finally:
        database.engine.dispose()
    if not rows:
        click.echo("Det finns inga API-klienter.")
        return
    for name, scopes, created_at, revoked_at in rows:
        state = f"återkallad {revoked_at:%Y-%m-%d}" if revoked_at else "aktiv"
        click.echo(f"{name:<30} {scopes:<20} skapad {created_at:%Y-%m-%d}  {state}")
