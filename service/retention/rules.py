"""The retention rules: how long each kind of record is kept, read from a JSON file.

The file is ``service/retention/rules.json`` unless ``TRYGG_RETENTION_RULES``
names another (Settings.retention_rules). It is checked when read: an unknown
process, record type or key is refused with a message that says where, since
a misspelt rule would silently keep (or dispose of) the wrong records.

Periods count from the day the case was closed. A process without a rule is
kept: nothing is disposed of unless a rule says so.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

ANCHORS = frozenset({"closed", "measure_ended"})
RECORD_TYPES = {
    "notification": frozenset({"keep", "unread_keep", "basis"}),
    "job": frozenset({"keep", "dead_keep", "basis"}),
    "login_attempt": frozenset({"keep", "basis"}),
}
CASE_KEYS = frozenset({"keep", "from", "in_force_end_events", "basis"})
TOP_KEYS = frozenset({"about", "cases", "records", "kept"})
NEVER_DISPOSED = frozenset({"audit_event", "audit_seal", "disposal_record"})


class RetentionRulesError(ValueError):
    """The rules file cannot be used; the message says what to fix and where."""


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


@dataclass(frozen=True)
class Period:
    years: int = 0
    months: int = 0
    days: int = 0

    def after(self, moment: datetime) -> datetime:
        """``moment`` plus the period (the 29th of February of a later year is the 28th)."""
        return _add_months(moment, 12 * self.years + self.months) + timedelta(days=self.days)

    def before(self, moment: datetime) -> datetime:
        return _add_months(moment, -(12 * self.years + self.months)) - timedelta(days=self.days)

    @property
    def text(self) -> str:
        """Swedish, as written into disposal records (data, not interface text)."""
        parts = []
        if self.years:
            parts.append(f"{self.years} år")
        if self.months:
            parts.append(f"{self.months} {'månad' if self.months == 1 else 'månader'}")
        if self.days:
            parts.append(f"{self.days} {'dag' if self.days == 1 else 'dagar'}")
        return " ".join(parts)


@dataclass(frozen=True)
class CaseRule:
    process_id: str
    keep: Period
    anchor: str  # "closed" or "measure_ended"
    basis: str
    # End events that leave the measure in force (no end date): such a case is kept.
    in_force_end_events: frozenset[str] = frozenset()

    @property
    def text(self) -> str:
        after = "efter att åtgärden upphörde" if self.anchor == "measure_ended" else "efter avslut"
        return f"{self.keep.text} {after}"


@dataclass(frozen=True)
class RecordRule:
    record_type: str
    keep: Period
    basis: str
    # notification: unread ones; job: dead ones (None: as ``keep``)
    other_keep: Period | None = None


@dataclass(frozen=True)
class RetentionRules:
    source: Path
    about: str
    cases: dict[str, CaseRule]
    records: dict[str, RecordRule]
    kept: dict[str, str] = field(default_factory=dict)


def _fail(where: str, message: str) -> RetentionRulesError:
    return RetentionRulesError(f"Gallringsreglerna, {where}: {message}")


def _period(value: Any, where: str) -> Period:
    if not isinstance(value, dict) or not value:
        raise _fail(where, 'ange en tid, till exempel {"years": 5} eller {"days": 90}')
    unknown = set(value) - {"years", "months", "days"}
    if unknown:
        raise _fail(where, f"okända nycklar {sorted(unknown)}; använd years, months, days")
    for key, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise _fail(where, f"{key} måste vara ett heltal, 0 eller större")
    period = Period(**value)
    if not (period.years or period.months or period.days):
        raise _fail(where, "tiden får inte vara noll")
    return period


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, "skriv grunden för regeln (basis) som text")
    return value.strip()


def _bpmn_ids(processes_dir: Path | None, process_id: str) -> set[str] | None:
    if processes_dir is None:
        return None
    path = processes_dir / f"{process_id}.bpmn"
    if not path.exists():
        return None
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def _case_rule(process_id: str, raw: Any, processes_dir: Path | None) -> CaseRule:
    where = f"cases.{process_id}"
    if not isinstance(raw, dict):
        raise _fail(where, "måste vara ett objekt")
    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise _fail(where, f"okända nycklar {sorted(unknown)}; tillåtna är {sorted(CASE_KEYS)}")
    anchor = raw.get("from", "closed")
    if anchor not in ANCHORS:
        raise _fail(where, f"from måste vara en av {sorted(ANCHORS)}")
    events = raw.get("in_force_end_events", [])
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise _fail(where, "in_force_end_events måste vara en lista med sluthändelsers id")
    if anchor == "measure_ended" and not events:
        raise _fail(where, "from measure_ended kräver in_force_end_events")
    known = _bpmn_ids(processes_dir, process_id)
    if known is not None and not set(events) <= known:
        missing = sorted(set(events) - known)
        raise _fail(where, f"sluthändelserna {missing} finns inte i {process_id}.bpmn")
    return CaseRule(
        process_id=process_id,
        keep=_period(raw.get("keep"), f"{where}.keep"),
        anchor=anchor,
        basis=_text(raw.get("basis"), f"{where}.basis"),
        in_force_end_events=frozenset(events),
    )


def _record_rule(record_type: str, raw: Any) -> RecordRule:
    where = f"records.{record_type}"
    if not isinstance(raw, dict):
        raise _fail(where, "måste vara ett objekt")
    allowed = RECORD_TYPES[record_type]
    unknown = set(raw) - allowed
    if unknown:
        raise _fail(where, f"okända nycklar {sorted(unknown)}; tillåtna är {sorted(allowed)}")
    other_key = next((k for k in ("unread_keep", "dead_keep") if k in raw), None)
    return RecordRule(
        record_type=record_type,
        keep=_period(raw.get("keep"), f"{where}.keep"),
        basis=_text(raw.get("basis"), f"{where}.basis"),
        other_keep=_period(raw[other_key], f"{where}.{other_key}") if other_key else None,
    )


def parse_rules(raw: Any, source: Path, processes_dir: Path | None = None) -> RetentionRules:
    """Check a parsed rules file; ``processes_dir`` lets process ids and end events be checked."""
    if not isinstance(raw, dict):
        raise _fail(str(source), "filen måste innehålla ett JSON-objekt")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise _fail(
            str(source), f"okända nycklar {sorted(unknown)}; tillåtna är {sorted(TOP_KEYS)}"
        )
    cases_raw = raw.get("cases") or {}
    records_raw = raw.get("records") or {}
    kept_raw = raw.get("kept") or {}
    if not all(isinstance(part, dict) for part in (cases_raw, records_raw, kept_raw)):
        raise _fail(str(source), "cases, records och kept måste vara objekt")
    for name in NEVER_DISPOSED:
        if name in cases_raw or name in records_raw:
            raise _fail(
                name,
                "granskningsloggen och gallringsprotokollen gallras inte av systemet "
                "(append-only); beskriv dem under kept",
            )
    known_processes = (
        {p.stem for p in processes_dir.glob("*.bpmn")} if processes_dir is not None else None
    )
    for process_id in cases_raw:
        if known_processes is not None and process_id not in known_processes:
            raise _fail(
                f"cases.{process_id}",
                f"det finns ingen sådan process; kända är {sorted(known_processes)}",
            )
    for record_type in records_raw:
        if record_type not in RECORD_TYPES:
            raise _fail(
                f"records.{record_type}",
                f"okänd posttyp; kända är {sorted(RECORD_TYPES)}",
            )
    return RetentionRules(
        source=source,
        about=str(raw.get("about") or ""),
        cases={p: _case_rule(p, r, processes_dir) for p, r in cases_raw.items()},
        records={t: _record_rule(t, r) for t, r in records_raw.items()},
        kept={str(k): str(v) for k, v in kept_raw.items()},
    )


def load_rules(path: Path, processes_dir: Path | None = None) -> RetentionRules:
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise _fail(str(path), f"filen kan inte läsas ({exc.strerror})") from exc
    return _load_cached(path, stamp, processes_dir)


@lru_cache(maxsize=8)
def _load_cached(path: Path, _stamp: int, processes_dir: Path | None) -> RetentionRules:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(str(path), f"filen är inte giltig JSON ({exc})") from exc
    return parse_rules(raw, path, processes_dir)
