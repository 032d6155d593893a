"""``trygg keys``: make a field key, see which keys the data is under, rotate.

Rotating, with the service running:

1. ``trygg keys generate`` and put the new key first in TRYGG_FIELD_KEYS,
   keeping the old ones after it; restart the web and worker processes.
2. ``trygg keys rotate``: every encrypted value is rewritten under the new
   key, in small transactions, beside the running service.
3. ``trygg keys status`` shows nothing left under the old key: remove it.
"""

from __future__ import annotations

import sys

import click

from service.config import Settings
from service.crypto.keys import ENV_VAR, FieldKeyError, cipher, generate_key
from service.crypto.rotation import key_usage, rotate
from service.db import Database


def _database() -> Database:
    return Database(Settings.from_env().database_url)


@click.group("keys")
def keys() -> None:
    """The field keys that encrypt case data at rest."""


@keys.command("generate")
def generate() -> None:
    """Print a new key (put it first in TRYGG_FIELD_KEYS, before the old ones)."""
    click.echo(generate_key())


@keys.command("status")
def status() -> None:
    """How many values are under each key, and how many are still plaintext."""
    try:
        current = cipher()
    except FieldKeyError as exc:
        click.echo(f"Nycklarna kunde inte läsas: {exc}", err=True)
        sys.exit(2)
    database = _database()
    try:
        usage = key_usage(database.engine)
    finally:
        database.engine.dispose()
    click.echo(f"Aktuell nyckel: {current.current_id} (av {len(current.key_ids)} i {ENV_VAR})")
    old = 0
    for label, counts in usage.items():
        parts = [
            f"{count} under {kid}{' (aktuell)' if kid == current.current_id else ''}"
            for kid, count in sorted(counts.items())
            if kid != "plaintext"
        ] + [f"{counts.get('plaintext', 0)} okrypterade"]
        old += sum(c for k, c in counts.items() if k != current.current_id)
        click.echo(f"  {label}: {', '.join(parts)}")
    sys.exit(0 if old == 0 else 1)


@keys.command("rotate")
@click.option("--batch-size", default=200, show_default=True, help="Rows per transaction.")
def rotate_command(batch_size: int) -> None:
    """Re-encrypt every value under the current (first) key; safe while the service runs."""
    try:
        current = cipher()
    except FieldKeyError as exc:
        click.echo(f"Nycklarna kunde inte läsas: {exc}", err=True)
        sys.exit(2)
    database = _database()
    try:
        report = rotate(database.engine, batch_size=batch_size, progress=click.echo)
    except FieldKeyError as exc:
        click.echo(f"Omkrypteringen avbröts: {exc}", err=True)
        sys.exit(2)
    finally:
        database.engine.dispose()
    for target in report.targets:
        click.echo(
            f"{target.label}: {target.rewritten} omkrypterade, "
            f"{target.changed_meanwhile} ändrades under tiden, {target.left} kvar"
        )
    if report.left:
        click.echo(
            f"{report.left} värden är inte under nyckel {current.current_id}. Har alla "
            f"processer fått den nya nyckeln först i {ENV_VAR}? Kör kommandot igen.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Klart: allt är krypterat med nyckel {current.current_id}.")
