"""Moving running cases to another version of their process: select, dry run, move, revert.

For process designers only (policy.can_migrate_instances). The pages show
case numbers, versions, step names and dates: never who a case is about,
what was answered or which parties are involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from service.auth import policy
from service.cases.models import CaseStatus, ProcessInstance
from service.definitions.catalog import latest_definition, versions_of
from service.definitions.instance_migration import (
    MAX_CASES,
    InstancePlan,
    Refusal,
    RevertRefused,
    migrate_instances,
    plan_migrations,
    revert_migration,
)
from service.definitions.migration_models import InstanceMigration
from service.definitions.models import ProcessDefinition
from service.errors import N_, DomainError, Forbidden, InvalidInput, NotFound
from service.people.models import User
from service.tasks.models import HumanTask, TaskStatus
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

bp = Blueprint("migration", __name__)


@bp.app_template_filter("migration_words")
def migration_words(words: tuple[str, ...]) -> str:
    """What changed about a step, in the reader's language."""
    return ", ".join(_(word) for word in words)


@bp.app_template_filter("refusal_text")
def refusal_text(refusal: Refusal) -> str:
    args = dict(refusal.args)
    if "what" in args:
        args["what"] = migration_words(tuple(args["what"]))
    return _(refusal.message, **args)


def _require_designer() -> None:
    if not policy.can_migrate_instances(user()):
        raise Forbidden(N_("This page is for process designers."))


def _versions(process_id: str) -> list[ProcessDefinition]:
    found = versions_of(db(), process_id)
    if not found:
        raise NotFound(N_("There is no process with this id."))
    return found


@dataclass(frozen=True)
class CaseRow:
    case_id: int
    status: str
    started: datetime
    changed: datetime
    steps: tuple[str, ...]  # the names of its open tasks


@dataclass(frozen=True)
class VersionGroup:
    definition: ProcessDefinition
    cases: tuple[CaseRow, ...]


def _groups(process_id: str, versions: list[ProcessDefinition]) -> list[VersionGroup]:
    """Unfinished cases per version, newest version first: numbers, dates and step names only."""
    session = db()
    rows = session.execute(
        select(
            ProcessInstance.id,
            ProcessInstance.definition_id,
            ProcessInstance.status,
            ProcessInstance.created_at,
            ProcessInstance.updated_at,
        )
        .where(
            ProcessInstance.process_id == process_id,
            ProcessInstance.status.in_((CaseStatus.RUNNING.value, CaseStatus.ERROR.value)),
        )
        .order_by(ProcessInstance.id)
    ).all()
    steps: dict[int, list[str]] = {}
    if rows:
        for instance_id, name in session.execute(
            select(HumanTask.instance_id, HumanTask.name)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(
                ProcessInstance.process_id == process_id,
                HumanTask.status == TaskStatus.OPEN.value,
            )
            .order_by(HumanTask.id)
        ):
            steps.setdefault(instance_id, []).append(name)
    groups = []
    for definition in versions:
        cases = tuple(
            CaseRow(r.id, r.status, r.created_at, r.updated_at, tuple(steps.get(r.id, ())))
            for r in rows
            if r.definition_id == definition.id
        )
        if cases:
            groups.append(VersionGroup(definition, cases))
    return groups


def _active(process_id: str, versions: list[ProcessDefinition]) -> ProcessDefinition:
    """The version new cases start on: the default place to move cases to."""
    return latest_definition(db(), process_id) or versions[0]


def _target(
    process_id: str, versions: list[ProcessDefinition], raw: str | None
) -> ProcessDefinition:
    if raw in (None, ""):
        return _active(process_id, versions)
    try:
        number = int(str(raw))
    except ValueError:
        number = -1
    for definition in versions:
        if definition.version == number:
            return definition
    raise InvalidInput(N_("Choose a version of this process to move the cases to."))


def _selected() -> list[int]:
    ids: list[int] = []
    for raw in request.form.getlist("case"):
        try:
            ids.append(int(raw))
        except ValueError as exc:
            raise InvalidInput(
                N_("A selected case number is not a number. Reload the page.")
            ) from exc
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidInput(N_("Select at least one case to move."))
    if len(ids) > MAX_CASES:
        raise InvalidInput(N_("Select at most 500 cases at a time."))
    return ids


def _select_page(
    process_id: str, status: int = 200, error: str | None = None, target: Any = None
) -> tuple[str, int]:
    versions = _versions(process_id)
    active = _active(process_id, versions)
    chosen = target if isinstance(target, ProcessDefinition) else active
    groups = _groups(process_id, versions)
    return (
        render_template(
            "migration_select.html",
            process_id=process_id,
            latest=versions[0],
            active=active,
            versions=versions,
            target=chosen,
            groups=groups,
            error=error,
            selected=set(request.form.getlist("case")) if request.method == "POST" else set(),
        ),
        status,
    )


@bp.route("/processes/<process_id>/migrate", methods=["GET"])
@login_required
def select_cases(process_id: str) -> Any:
    _require_designer()
    target = None
    if request.args.get("to"):
        try:
            target = _target(process_id, _versions(process_id), request.args.get("to"))
        except InvalidInput as exc:
            return _select_page(process_id, 400, _(exc.message, **exc.params))
    return _select_page(process_id, target=target)


@bp.route("/processes/<process_id>/migrate/plan", methods=["POST"])
@login_required
def plan(process_id: str) -> Any:
    _require_designer()
    versions = _versions(process_id)
    try:
        target = _target(process_id, versions, request.form.get("to"))
        ids = _selected()
    except InvalidInput as exc:
        return _select_page(process_id, 400, _(exc.message, **exc.params))
    plans = plan_migrations(services(), db(), ids, target)
    return render_template(
        "migration_plan.html",
        process_id=process_id,
        latest=versions[0],
        target=target,
        plans=plans,
        allowed=[p for p in plans if p.allowed],
        error=None,
    )


@bp.route("/processes/<process_id>/migrate", methods=["POST"])
@login_required
def migrate(process_id: str) -> Any:
    _require_designer()
    versions = _versions(process_id)
    try:
        target = _target(process_id, versions, request.form.get("to"))
        ids = _selected()
    except InvalidInput as exc:
        return _select_page(process_id, 400, _(exc.message, **exc.params))
    try:
        batch = migrate_instances(services(), db(), user(), ids, target, request.form.get("note"))
    except InvalidInput as exc:
        # Show the dry run again with the problem (a missing note): nothing was moved.
        plans = plan_migrations(services(), db(), ids, target)
        page = render_template(
            "migration_plan.html",
            process_id=process_id,
            latest=versions[0],
            target=target,
            plans=plans,
            allowed=[p for p in plans if p.allowed],
            error=_(exc.message, **exc.params),
        )
        return page, 400
    return render_template(
        "migration_result.html",
        process_id=process_id,
        latest=versions[0],
        target=target,
        batch=batch,
    )


@dataclass(frozen=True)
class HistoryRow:
    migration: InstanceMigration
    from_version: int
    to_version: int
    actor: str
    reverted_by: str | None


def _history(process_id: str) -> list[HistoryRow]:
    session = db()
    numbers = dict(
        session.execute(
            select(ProcessDefinition.id, ProcessDefinition.version).where(
                ProcessDefinition.process_id == process_id
            )
        ).all()
    )
    migrations = list(
        session.scalars(
            select(InstanceMigration)
            .where(InstanceMigration.process_id == process_id)
            .order_by(InstanceMigration.id.desc())
            .limit(1000)
        )
    )
    user_ids = {m.actor_id for m in migrations} | {m.reverted_by_id for m in migrations}
    names = dict(
        session.execute(
            select(User.id, User.display_name).where(User.id.in_([i for i in user_ids if i]))
        ).all()
    )
    return [
        HistoryRow(
            m,
            numbers.get(m.from_definition_id, 0),
            numbers.get(m.to_definition_id, 0),
            names.get(m.actor_id, "–") if m.actor_id else "–",
            names.get(m.reverted_by_id) if m.reverted_by_id else None,
        )
        for m in migrations
    ]


def _history_page(
    process_id: str,
    status: int = 200,
    error: str | None = None,
    refused: InstancePlan | None = None,
    done: str | None = None,
) -> tuple[str, int]:
    versions = _versions(process_id)
    rows = _history(process_id)
    batches: dict[str, list[HistoryRow]] = {}
    for row in rows:
        batches.setdefault(row.migration.batch_id, []).append(row)
    return (
        render_template(
            "migration_history.html",
            process_id=process_id,
            latest=versions[0],
            batches=batches,
            error=error,
            refused=refused,
            done=done,
        ),
        status,
    )


@bp.route("/processes/<process_id>/migrations", methods=["GET"])
@login_required
def history(process_id: str) -> Any:
    _require_designer()
    return _history_page(process_id)


@bp.route("/processes/<process_id>/migrations/<int:migration_id>/revert", methods=["POST"])
@login_required
def revert(process_id: str, migration_id: int) -> Any:
    _require_designer()
    _versions(process_id)
    try:
        result = revert_migration(
            services(), db(), user(), migration_id, request.form.get("note"), process_id
        )
    except RevertRefused as exc:
        db().rollback()
        return _history_page(process_id, 409, _(exc.message, **exc.params), refused=exc.plan)
    except NotFound:
        raise
    except DomainError as exc:
        db().rollback()
        return _history_page(process_id, exc.status, _(exc.message, **exc.params))
    message = (
        _(
            "Case %(case)s is back on version %(n)s, exactly as before the move.",
            case=result.case_id,
            n=result.version,
        )
        if result.exact
        else _(
            "Case %(case)s is moved back to version %(n)s.", case=result.case_id, n=result.version
        )
    )
    return _history_page(process_id, done=message)
