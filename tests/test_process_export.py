"""trygg export-processes writes the active versions back as files that load unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from service.cli import main as cli
from service.config import PROJECT_ROOT, Settings
from service.definitions.catalog import (
    ProcessFiles,
    latest_definition,
    latest_definitions,
    store_version,
    sync_from_files,
)
from service.definitions.export import export_processes


def test_exported_files_load_again_without_a_new_version(session: Session, tmp_path: Path) -> None:
    active = {row.process_id: row.version for row in latest_definitions(session)}
    assert "incident" in active
    result = export_processes(session, tmp_path)
    assert dict(result.processes) == active
    # The BPMN and DMN are written exactly as stored (here: as in the repository).
    for name in ("incident.bpmn", "risk_level.dmn"):
        assert (tmp_path / "processes" / name).read_bytes() == (
            PROJECT_ROOT / "processes" / name
        ).read_bytes()
    # Forms and metadata hold the same JSON as the repository's files.
    for form_id in result.forms:
        exported = json.loads((tmp_path / "forms" / f"{form_id}.json").read_text("utf-8"))
        assert exported == json.loads(
            (PROJECT_ROOT / "forms" / f"{form_id}.json").read_text("utf-8")
        )
    assert sync_from_files(session, tmp_path / "processes", tmp_path / "forms") == []


def test_export_takes_the_stored_version_not_the_repository_file(
    session: Session, tmp_path: Path
) -> None:
    old = latest_definition(session, "incident")
    assert old is not None
    xml = old.bpmn_xml.replace('name="Stöd till den drabbade"', 'name="Ring den drabbade"')
    files = ProcessFiles("incident", xml, dict(old.meta), dict(old.forms), dict(old.decisions))
    row, created = store_version(session, files, author="designer")
    assert created
    result = export_processes(session, tmp_path)
    assert ("incident", row.version) in result.processes
    assert (tmp_path / "processes" / "incident.bpmn").read_text("utf-8") == xml
    assert sync_from_files(session, tmp_path / "processes", tmp_path / "forms") == []


def test_cli_export_processes(
    session: Session, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    out = tmp_path / "export"
    done = CliRunner().invoke(cli, ["export-processes", "--output", str(out)])
    assert done.exit_code == 0, done.output
    assert "Exporterad: incident v" in done.output
    assert sorted(p.name for p in (out / "processes").glob("*.bpmn")) == sorted(
        p.name for p in (PROJECT_ROOT / "processes").glob("*.bpmn")
    )


def test_scenarios_are_exported_beside_the_process_and_describe_the_version(
    session: Session, tmp_path: Path
) -> None:
    result = export_processes(session, tmp_path)
    for process_id, _version in result.processes:
        exported = tmp_path / "processes" / f"{process_id}.scenarios.json"
        shipped = PROJECT_ROOT / "processes" / f"{process_id}.scenarios.json"
        # The same JSON (PostgreSQL's jsonb keeps its own key order, so not the same bytes).
        assert json.loads(exported.read_text("utf-8")) == json.loads(shipped.read_text("utf-8")), (
            process_id
        )
    # Changed scenarios update the stored version: tests describe a version, they don't make one.
    incident = latest_definition(session, "incident")
    assert incident is not None
    path = tmp_path / "processes" / "incident.scenarios.json"
    scenario = json.loads(path.read_text("utf-8"))
    scenario["paths"] = scenario["paths"][:1]
    path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
    assert sync_from_files(session, tmp_path / "processes", tmp_path / "forms") == []
    session.expire_all()
    again = latest_definition(session, "incident")
    assert again is not None and again.version == incident.version
    assert again.scenarios == scenario["paths"]
