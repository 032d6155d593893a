"""Write the active versions back to files, in the layout processes/ and forms/ use.

A designer can take what is actually running, open it in the modeller, and
load it again: the export is what the database holds, not what the
repository's files happen to say today.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from service.definitions.catalog import latest_definitions
from service.engine.errors import DefinitionError


@dataclass
class ExportResult:
    processes_dir: Path
    forms_dir: Path
    processes: list[tuple[str, int]] = field(default_factory=list)  # (process id, version)
    forms: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)


def _json_text(value: Any) -> str:
    # The layout of the files in the repository: two spaces, Swedish letters as they are.
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _safe_name(name: str, suffix: str) -> str:
    # Names come from the database; never let one climb out of the export directory.
    if not name or "/" in name or "\\" in name or name.startswith(".") or not name.endswith(suffix):
        raise DefinitionError(f"The stored name {name!r} cannot be written as a file.")
    return name


def export_processes(session: Session, output: Path) -> ExportResult:
    """Write the latest version of every process under output/processes and output/forms.

    A form shared by several processes must be the same in all of them;
    if two active versions froze different snapshots of it, the export is
    refused rather than silently picking one.
    """
    result = ExportResult(processes_dir=output / "processes", forms_dir=output / "forms")
    files: dict[Path, str] = {}
    origin: dict[Path, str] = {}

    def put(path: Path, text: str, owner: str) -> None:
        if path in files and files[path] != text:
            raise DefinitionError(
                f"{path.name} differs between the active versions of {origin[path]} and {owner}; "
                "load the processes again so that they share one version of it."
            )
        files[path] = text
        origin.setdefault(path, owner)

    for row in latest_definitions(session):
        process_id = row.process_id
        put(
            result.processes_dir / _safe_name(f"{process_id}.bpmn", ".bpmn"),
            row.bpmn_xml,
            process_id,
        )
        put(result.processes_dir / f"{process_id}.json", _json_text(row.meta), process_id)
        if row.scenarios is not None:
            put(
                result.processes_dir / f"{process_id}.scenarios.json",
                _json_text({"process_id": process_id, "paths": row.scenarios}),
                process_id,
            )
        for name, text in sorted((row.decisions or {}).items()):
            put(result.processes_dir / _safe_name(name, ".dmn"), str(text), process_id)
            if name not in result.decisions:
                result.decisions.append(name)
        for form_id, form in sorted((row.forms or {}).items()):
            put(
                result.forms_dir / _safe_name(f"{form_id}.json", ".json"),
                _json_text(form),
                process_id,
            )
            if form_id not in result.forms:
                result.forms.append(form_id)
        result.processes.append((process_id, row.version))
    result.processes_dir.mkdir(parents=True, exist_ok=True)
    result.forms_dir.mkdir(parents=True, exist_ok=True)
    for path, text in sorted(files.items()):
        path.write_text(text, encoding="utf-8")
    result.forms.sort()
    result.decisions.sort()
    return result
