"""Back up and restore an instance: the database, the attachment files and a manifest.

A backup is a directory::

    manifest.json      written last: a directory without it is an unfinished backup
    database.pgdump    PostgreSQL: ``pg_dump --format=custom``
    database.sqlite3   SQLite: a copy made with SQLite's online backup API
    attachments.tar    every file under Settings.attachments_dir

The manifest records when and from what the backup was made (app version,
Alembic revision), the row count of every table and the SHA-256 of every file,
both of the backup's own files and of each attachment inside the archive.
A restore refuses a damaged backup before touching anything, restores only
into an empty database and an empty attachments directory (``force`` moves
what is there aside instead of deleting it), and then checks the result: the
files' hashes, the row counts, the attachment rows against their files and
the audit trail's HMAC chain.

The database is dumped before the attachments are archived: files are written
before the row that names them is committed and are never changed, so every
attachment the dump refers to is in the archive, unless the nightly disposal
run deletes one in between (the restore reports such a file as missing).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from service.audit.chain import audit_key, verify
from service.config import Settings

MANIFEST = "manifest.json"
FORMAT = 1
PG_DUMP = "database.pgdump"
SQLITE_COPY = "database.sqlite3"
ATTACHMENTS_TAR = "attachments.tar"
ASIDE_PREFIX = ".before-restore-"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message (Swedish) says what to do."""


@dataclass
class RestoreReport:
    """What a restore put back, and everything that did not check out."""

    revision: str | None = None
    tables: dict[str, int] = field(default_factory=dict)
    attachments: int = 0
    audit_checked: int = 0
    moved_aside: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- helpers -------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def app_version() -> str:
    try:
        return metadata.version("trygg-i-uppdraget")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def audit_key_fingerprint(secret_key: str) -> str:
    """Tells whether a restore uses the audit key the backup was made with, revealing nothing of it."""
    return hmac.new(audit_key(secret_key), b"trygg backup fingerprint", hashlib.sha256).hexdigest()[
        :16
    ]


def _now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    # A plain engine (no WAL pragma, no pool): a backup must not change the files it reads.
    engine = create_engine(url, poolclass=NullPool)
    try:
        yield engine
    except OperationalError as exc:
        raise BackupError(
            f"Databasen {make_url(url).database} kunde inte nås ({exc.orig}). Kontrollera "
            "DATABASE_URL; vid återställning: skapa först en tom databas (createdb)."
        ) from exc
    finally:
        engine.dispose()


def _dialect(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("postgresql", "sqlite"):
        raise BackupError(f"Databasen {name!r} stöds inte; använd PostgreSQL eller SQLite.")
    return name


def _row_counts(connection: Connection) -> dict[str, int]:
    names = sorted(inspect(connection).get_table_names())
    return {
        name: int(connection.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in names
    }


def _alembic_revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    from service.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


# -- PostgreSQL's own tools ------------------------------------------------------


def _server_major(connection: Connection) -> int:
    return int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 - a fixed tool name, no shell
            [path, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    for word in out.split():
        head = word.split(".")[0]
        if head.isdigit():
            return int(head)
    return None


def pg_tool(name: str, server_major: int) -> str:
    """pg_dump / pg_restore of the server's major version: the version-specific
    directory Debian installs it in first, then PATH."""
    candidates = [f"/usr/lib/postgresql/{server_major}/bin/{name}"]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    seen = []
    for candidate in candidates:
        if not Path(candidate).is_file():
            continue
        major = _tool_major(candidate)
        if major == server_major:
            return candidate
        seen.append(f"{candidate} är version {major}")
    found = f" ({'; '.join(seen)})" if seen else ""
    raise BackupError(
        f"{name} för PostgreSQL {server_major} saknas{found}. Installera klientverktygen i "
        f"samma version som servern (Debian: postgresql-client-{server_major}) eller lägg "
        "deras katalog först i PATH."
    )


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A conninfo for the tools, and the environment that carries the password.

    The password goes in PGPASSWORD, never on the command line, where every
    user of the machine could read it.
    """
    from psycopg.conninfo import make_conninfo

    parsed = make_url(url)
    params: dict[str, Any] = {"dbname": parsed.database}
    if parsed.host:
        params["host"] = parsed.host
    if parsed.port:
        params["port"] = str(parsed.port)
    if parsed.username:
        params["user"] = parsed.username
    for key, value in parsed.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return make_conninfo(**params), env


def _run_tool(args: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} misslyckades: {' / '.join(detail[-5:]) or result.returncode}")


# -- backup -----------------------------------------------------------------------


class _HashingReader:
    """Hands a file to tarfile while hashing exactly the bytes that go into the archive."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.digest.update(chunk)
        return chunk


def _archive_attachments(source: Path, archive: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    files = (
        sorted(
            p
            for p in source.rglob("*")
            # The store writes ".<name>.part" and renames it when whole: a hidden
            # file is an upload still under way, whose row is not in the dump; a
            # hidden directory is what an earlier restore moved aside.
            if p.is_file()
            and not p.is_symlink()
            and not any(part.startswith(".") for part in p.relative_to(source).parts)
        )
        if source.is_dir()
        else []
    )
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            name = path.relative_to(source).as_posix()
            with path.open("rb") as handle:
                info = tar.gettarinfo(arcname=name, fileobj=handle)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                reader = _HashingReader(handle)
                tar.addfile(info, reader)
            entries[name] = {"sha256": reader.digest.hexdigest(), "bytes": info.size}
    return entries


def _prepare_output(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupError(
            f"{output} finns redan och är inte en tom katalog; välj en ny katalog för "
            "säkerhetskopian (en tidigare kopia skrivs aldrig över)."
        )
    output.mkdir(parents=True, exist_ok=True)
    # The backup holds the most sensitive data the city keeps: owner only.
    output.chmod(0o700)


def _backup_postgres(url: str, output: Path) -> dict[str, Any]:
    conninfo, env = _libpq(url)
    with _engine(url) as engine, engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            # The counts and pg_dump read the same snapshot, so they agree
            # even while the service keeps writing.
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            major = _server_major(connection)
            server_version = connection.execute(text("SHOW server_version")).scalar_one()
            tables = _row_counts(connection)
            revision = _alembic_revision(connection)
            dump = pg_tool("pg_dump", major)
            _run_tool(
                [
                    dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={output / PG_DUMP}",
                    f"--dbname={conninfo}",
                ],
                env,
                "pg_dump",
            )
    return {
        "dialect": "postgresql",
        "server_version": server_version,
        "file": PG_DUMP,
        "alembic_revision": revision,
        "tables": tables,
    }


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("En SQLite-databas i minnet kan inte säkerhetskopieras.")
    return Path(database)


def _backup_sqlite(url: str, output: Path) -> dict[str, Any]:
    source_path = _sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"Databasfilen {source_path} finns inte.")
    target = output / SQLITE_COPY
    source = sqlite3.connect(source_path)
    copy = sqlite3.connect(target)
    try:
        # The online backup API: a consistent copy while the service runs.
        source.backup(copy)
        # A self-contained file: no -wal beside it in the backup.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        source.close()
    with _engine(f"sqlite:///{target}") as engine, engine.connect() as connection:
        tables = _row_counts(connection)
        revision = _alembic_revision(connection)
    return {
        "dialect": "sqlite",
        "server_version": sqlite3.sqlite_version,
        "file": SQLITE_COPY,
        "alembic_revision": revision,
        "tables": tables,
    }


def create_backup(settings: Settings, output: Path) -> dict[str, Any]:
    """Write a backup of the database and the attachments into ``output`` (new or empty)."""
    dialect = _dialect(settings.database_url)
    _prepare_output(output)
    created_at = datetime.now(UTC)
    if dialect == "postgresql":
        database = _backup_postgres(settings.database_url, output)
    else:
        database = _backup_sqlite(settings.database_url, output)
    attachments = _archive_attachments(settings.attachments_dir, output / ATTACHMENTS_TAR)
    files = {}
    for name in (database["file"], ATTACHMENTS_TAR):
        (output / name).chmod(0o600)
        files[name] = _file_entry(output / name)
    manifest = {
        "format": FORMAT,
        "created_at": created_at.isoformat(),
        "app_version": app_version(),
        "database": {k: v for k, v in database.items() if k != "tables"},
        "tables": database["tables"],
        "files": files,
        "attachments": attachments,
        "audit_key_fingerprint": audit_key_fingerprint(settings.secret_key),
    }
    # Written last and renamed into place: its presence marks a finished backup.
    partial = output / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.chmod(0o600)
    partial.replace(output / MANIFEST)
    return manifest


# -- restore ----------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{path} saknas: katalogen är ingen färdig säkerhetskopia (den avbröts, "
            "eller fel katalog angavs)."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BackupError(f"{path} är skadad: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} har ett format som den här versionen inte känner igen.")
    return manifest


def verify_backup_files(source: Path, manifest: dict[str, Any]) -> None:
    """Refuse a damaged or incomplete backup before anything is touched."""
    for name, entry in manifest["files"].items():
        path = source / name
        if not path.is_file():
            raise BackupError(f"{path} saknas i säkerhetskopian.")
        if sha256_file(path) != entry["sha256"]:
            raise BackupError(
                f"{path} stämmer inte med sin SHA-256 i manifestet: filen är skadad eller "
                "ändrad. Använd en annan säkerhetskopia."
            )


def _pg_is_empty(connection: Connection) -> bool:
    found = connection.execute(
        text(
            "SELECT (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid)"
            " + (SELECT count(*) FROM pg_proc p WHERE p.pronamespace = n.oid)"
            " FROM pg_namespace n WHERE n.nspname = current_schema()"
        )
    ).scalar()
    return not found


def _prepare_postgres_target(url: str, force: bool, report: RestoreReport) -> None:
    with _engine(url) as engine, engine.begin() as connection:
        if _pg_is_empty(connection):
            return
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        if not force:
            raise BackupError(
                f"Databasen {make_url(url).database} är inte tom (schemat {schema} har "
                "tabeller). Återställ till en ny, tom databas, eller ange --force för att "
                f"flytta undan det som finns till ett eget schema."
            )
        aside = f"{schema}_before_restore_{_now_stamp().lower()}"
        # Moved aside, not dropped: what was there can still be read, or dropped
        # by hand (DROP SCHEMA … CASCADE) once the restore is known to be good.
        connection.execute(text(f'ALTER SCHEMA "{schema}" RENAME TO "{aside}"'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        report.moved_aside.append(f"schemat {schema} → {aside}")


def _restore_postgres(url: str, source: Path, force: bool, report: RestoreReport) -> None:
    with _engine(url) as engine, engine.connect() as connection:
        major = _server_major(connection)
    restore = pg_tool("pg_restore", major)
    _prepare_postgres_target(url, force, report)
    conninfo, env = _libpq(url)
    _run_tool(
        [
            restore,
            "--exit-on-error",
            "--single-transaction",
            # Objects belong to whoever restores (the service's own role);
            # grants to roles of the old server may not exist here.
            "--no-owner",
            "--no-privileges",
            f"--dbname={conninfo}",
            str(source / PG_DUMP),
        ],
        env,
        "pg_restore",
    )


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    connection = sqlite3.connect(path)
    try:
        return bool(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.DatabaseError:
        return True  # not an SQLite database at all: certainly not an empty one
    finally:
        connection.close()


def _restore_sqlite(url: str, source: Path, force: bool, report: RestoreReport) -> None:
    target = _sqlite_path(url)
    if _sqlite_has_tables(target):
        if not force:
            raise BackupError(
                f"Databasfilen {target} är inte tom. Återställ till en ny fil, eller ange "
                "--force för att flytta undan den som finns."
            )
        stamp = _now_stamp()
        for suffix in ("", "-wal", "-shm"):
            existing = Path(f"{target}{suffix}")
            if existing.exists():
                aside = Path(f"{target}.before-restore-{stamp}{suffix}")
                existing.rename(aside)
                if not suffix:
                    report.moved_aside.append(f"{target} → {aside}")
    target.parent.mkdir(parents=True, exist_ok=True)
    backup = sqlite3.connect(f"file:{source / SQLITE_COPY}?mode=ro", uri=True)
    restored = sqlite3.connect(target)
    try:
        backup.backup(restored)
        # The service runs SQLite in WAL mode; set it now, before it opens the file.
        restored.execute("PRAGMA journal_mode=WAL")
    finally:
        restored.close()
        backup.close()


def _has_files(directory: Path) -> bool:
    return directory.exists() and any(
        not entry.name.startswith(ASIDE_PREFIX) for entry in directory.iterdir()
    )


def _refuse_non_empty_attachments_dir(target: Path) -> None:
    if _has_files(target):
        raise BackupError(
            f"Katalogen för bilagor {target} är inte tom. Återställ till en tom katalog "
            "(TRYGG_ATTACHMENTS_DIR), eller ange --force för att flytta undan den som finns."
        )


def _prepare_attachments_dir(target: Path, force: bool, report: RestoreReport) -> None:
    if _has_files(target):
        if not force:
            _refuse_non_empty_attachments_dir(target)
        aside = target.with_name(f"{target.name}.before-restore-{_now_stamp()}")
        try:
            target.rename(aside)
        except OSError:
            # A mount point (a container's volume) cannot be renamed. Its files go
            # into a hidden directory inside it: on the same volume, so they outlive
            # the container that restores, and never taken for attachments.
            aside = target / f"{ASIDE_PREFIX}{_now_stamp()}"
            aside.mkdir(mode=0o700)
            for entry in list(target.iterdir()):
                if entry != aside and not entry.name.startswith(ASIDE_PREFIX):
                    entry.rename(aside / entry.name)
        report.moved_aside.append(f"{target} → {aside}")
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)


def _restore_attachments(
    source: Path, target: Path, manifest: dict[str, Any], report: RestoreReport
) -> None:
    expected: dict[str, dict[str, Any]] = manifest["attachments"]
    with tarfile.open(source / ATTACHMENTS_TAR, "r") as tar:
        members = tar.getmembers()
        names = {m.name for m in members}
        if names != set(expected) or not all(m.isfile() for m in members):
            raise BackupError(
                "Arkivet med bilagor stämmer inte med manifestet (filer saknas eller är för "
                "många). Använd en annan säkerhetskopia."
            )
        # The "data" filter refuses absolute paths, "..", links and device files.
        tar.extractall(target, filter="data")
    for name, entry in sorted(expected.items()):
        path = target / name
        if sha256_file(path) != entry["sha256"]:
            report.problems.append(f"bilagan {name} stämmer inte med sin SHA-256")
        else:
            report.attachments += 1


def _check_attachment_rows(session: Session, target: Path, report: RestoreReport) -> None:
    """Every attachment row's file is there, with the hash the row recorded."""
    if "case_attachment" not in inspect(session.connection()).get_table_names():
        return
    rows = session.execute(text("SELECT id, stored_name, sha256 FROM case_attachment")).all()
    for row_id, stored_name, digest in rows:
        path = target / stored_name
        if not path.is_file():
            report.problems.append(f"bilaga {row_id}: filen {stored_name} saknas")
        elif sha256_file(path) != digest:
            report.problems.append(f"bilaga {row_id}: filen {stored_name} har fel innehåll")


def restore_backup(settings: Settings, source: Path, force: bool = False) -> RestoreReport:
    """Restore ``source`` into the configured (empty) database and attachments directory."""
    manifest = read_manifest(source)
    verify_backup_files(source, manifest)
    dialect = _dialect(settings.database_url)
    made_on = manifest["database"]["dialect"]
    if made_on != dialect:
        raise BackupError(
            f"Säkerhetskopian är gjord från {made_on} och kan bara återställas till {made_on}, "
            f"inte till {dialect}."
        )
    report = RestoreReport()
    attachments_dir = settings.attachments_dir
    # Both targets are checked before either is written to.
    if not force:
        _refuse_non_empty_attachments_dir(attachments_dir)
    if dialect == "postgresql":
        _restore_postgres(settings.database_url, source, force, report)
    else:
        _restore_sqlite(settings.database_url, source, force, report)
    _prepare_attachments_dir(attachments_dir, force, report)
    _restore_attachments(source, attachments_dir, manifest, report)
    _check_restored_database(settings, manifest, report)
    return report


def _check_field_keys(settings: Settings, report: RestoreReport) -> None:
    """Every key the restored fields are encrypted under is one this instance has."""
    from service.crypto.keys import FieldKeyError, cipher
    from service.crypto.rotation import key_usage

    try:
        available = set(cipher().key_ids)
    except FieldKeyError as exc:
        report.problems.append(f"fältnycklarna kunde inte läsas: {exc}")
        return
    with _engine(settings.database_url) as engine:
        try:
            usage = key_usage(engine)
        except SQLAlchemyError:
            report.notes.append("de krypterade fälten kontrolleras efter trygg migrate")
            return
    for label, counts in usage.items():
        for kid, count in sorted(counts.items()):
            if kid != "plaintext" and kid not in available:
                report.problems.append(
                    f"{count} värden i {label} är krypterade med nyckeln {kid}, som "
                    "TRYGG_FIELD_KEYS saknar: ange nycklarna från när säkerhetskopian togs"
                )


def _check_restored_database(
    settings: Settings, manifest: dict[str, Any], report: RestoreReport
) -> None:
    with _engine(settings.database_url) as engine, Session(engine) as session:
        connection = session.connection()
        report.tables = _row_counts(connection)
        report.revision = _alembic_revision(connection)
        for name, count in manifest["tables"].items():
            if report.tables.get(name) != count:
                report.problems.append(
                    f"tabellen {name} har {report.tables.get(name, 'inga')} rader, "
                    f"säkerhetskopian {count}"
                )
        _check_attachment_rows(session, settings.attachments_dir, report)
        if manifest.get("audit_key_fingerprint") != audit_key_fingerprint(settings.secret_key):
            report.problems.append(
                "granskningsloggens nyckel (TRYGG_AUDIT_KEY, annars SECRET_KEY) är inte "
                "densamma som när säkerhetskopian togs; kedjan kan inte kontrolleras med den"
            )
        elif "audit_seal" in report.tables:
            try:
                result = verify(session, settings.secret_key)
            except SQLAlchemyError:
                # An older schema than this release's models: migrate first.
                session.rollback()
                report.notes.append(
                    "granskningsloggens kedja kontrolleras efter trygg migrate med "
                    "trygg audit verify"
                )
            else:
                report.audit_checked = result.checked
                report.problems.extend(f"granskningsloggen: {p}" for p in result.problems)
    _check_field_keys(settings, report)
    head = _head_revision()
    if report.revision != head:
        report.notes.append(
            f"databasens schema är {report.revision}, programmets {head}: kör trygg migrate"
        )


# -- what the command prints ------------------------------------------------------


def describe_backup(output: Path, manifest: dict[str, Any]) -> list[str]:
    tables = manifest["tables"]
    return [
        f"Säkerhetskopian finns i {output}",
        f"  databas: {manifest['database']['dialect']}, schema "
        f"{manifest['database']['alembic_revision']}, {len(tables)} tabeller, "
        f"{sum(tables.values())} rader",
        f"  ärenden: {tables.get('process_instance', 0)}, uppgifter: "
        f"{tables.get('human_task', 0)}, händelser i granskningsloggen: "
        f"{tables.get('audit_event', 0)}",
        f"  bilagor: {len(manifest['attachments'])} filer, "
        f"{sum(e['bytes'] for e in manifest['attachments'].values())} byte",
        "Förvara den krypterad och åtskild från servern: den innehåller allt systemet vet.",
    ] + [f"OBS: {warning}" for warning in key_warnings()]


def key_warnings() -> list[str]:
    """Keys that live only in the instance folder: a backup is useless without them."""
    warnings = []
    for variable, file in (("SECRET_KEY", "secret_key"), ("TRYGG_FIELD_KEYS", "field_keys")):
        if not os.environ.get(variable):
            warnings.append(
                f"{variable} är inte satt, så nyckeln finns bara i instance/{file}: "
                "kopiera den separat, den ingår inte i säkerhetskopian"
            )
    return warnings


def describe_restore(report: RestoreReport) -> list[str]:
    tables = report.tables
    lines = [f"Flyttade undan: {moved}" for moved in report.moved_aside]
    lines += [
        f"Återställt: schema {report.revision}, {len(tables)} tabeller, "
        f"{sum(tables.values())} rader",
        f"  ärenden: {tables.get('process_instance', 0)}, uppgifter: "
        f"{tables.get('human_task', 0)}, bilagor: {report.attachments}, "
        f"händelser i granskningsloggen: {tables.get('audit_event', 0)} "
        f"({report.audit_checked} förseglade och kontrollerade)",
    ]
    lines += [f"OBS: {note}" for note in report.notes]
    lines += [f"FEL: {problem}" for problem in report.problems]
    lines.append(
        "Återställningen är kontrollerad: allt stämmer."
        if report.ok
        else f"Återställningen har {len(report.problems)} fel (se ovan)."
    )
    return lines
