"""The one place that answers access questions. Everything is denied unless a rule allows it.

Functions answer for one object (``can_view_case``) or give a SQL filter for
lists (``visible_cases_filter``) so that lists and single pages never
disagree. Roles, scopes and the rules:

- security, security_lead: every case and the tasks of their role.
- official: cases about themselves, and tasks assigned to them.
- party_office: cases about people of their own party, and their party's tasks.
- committee: cases where their organisation was given a task, and those tasks.
- party_office also sees a case outside its party where it was given a task.
- tib: cases where the TiB was given a task, and TiB tasks.
- designer, admin: no case data.
- designer: the process definitions and their diagrams (can_see_process_models).
- the summary for the police (incident, police_report): the official concerned, their
  party office and the security department (can_export_police_summary).
- data protection (subject access, erasure, retention and disposal records) and legal
  holds: the security lead only; releasing a case with its secret fields masked
  (utlämnande): the security department (can_manage_personal_data, can_set_legal_hold,
  can_release_case).
- A group task (party office, committee, TiB, security) can be taken by one of
  the group; then only they work it while the group still sees who has it.
  The security lead may hand a group task to anyone active with its role in
  its party or organisation. An official's own task is theirs alone.

Comments and attachments carry a visibility level (casenotes.models.NoteVisibility):
everyone in the case; the security department and the party office; or the
security department only. A user reads and writes the levels of their roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from service.casenotes.models import Attachment, NoteVisibility
from service.cases.models import ProcessInstance
from service.definitions.models import ProcessDefinition
from service.people.models import LANE_ROLES, Party, Person, Role, User, UserRole
from service.tasks.models import HumanTask

CASE_WIDE_ROLES = (Role.SECURITY, Role.SECURITY_LEAD)


def _task_scope(user: User, role: Role) -> ColumnElement[bool]:
    """Which human tasks of ``role`` this user may work on, as a SQL condition."""
    if role not in user.roles:
        return false()
    base = HumanTask.role == role.value
    if role is Role.OFFICIAL:
        return and_(base, HumanTask.assignee_id == user.id)
    if role is Role.PARTY_OFFICE:
        return and_(base, HumanTask.party_id == user.party_id) if user.party_id else false()
    if role is Role.COMMITTEE:
        if not user.organisation_id:
            return false()
        return and_(base, HumanTask.organisation_id == user.organisation_id)
    if role in (Role.SECURITY, Role.SECURITY_LEAD, Role.TIB):
        return base
    return false()


def group_task_scopes(user: User) -> list[ColumnElement[bool]]:
    """My roles' tasks within each role's scope (party, organisation), whoever holds them.

    An official's tasks are assigned to them by name, so they form no group.
    """
    if not user.is_active:
        return []
    return [
        _task_scope(user, role)
        for role in sorted(user.roles)
        if role in LANE_ROLES and role is not Role.OFFICIAL
    ]


def task_list_scopes(user: User) -> list[ColumnElement[bool]]:
    """The tasks my inbox lists, each way as its own condition (their OR is the rule).

    Mine, and my groups' whoever holds them: a group task someone has taken
    stays in the group's list, marked with who has it, so the group sees its
    whole workload (only the holder can work it: ``can_work_task``). Kept
    apart so the inbox reads each from its own index instead of sorting every
    open task of every role.
    """
    if not user.is_active:
        return []
    # A task assigned to a person is theirs whatever their roles (an official's
    # own task, one handed to whoever acts on the official's behalf, one claimed).
    return [HumanTask.assignee_id == user.id, *group_task_scopes(user)]


def workable_task_scopes(user: User) -> list[ColumnElement[bool]]:
    """The tasks I may work (complete), each way as its own condition: ``can_work_task`` in SQL.

    Mine, and my groups' tasks that nobody has taken.
    """
    if not user.is_active:
        return []
    return [
        HumanTask.assignee_id == user.id,
        *(and_(HumanTask.assignee_id.is_(None), scope) for scope in group_task_scopes(user)),
    ]


def workable_tasks_filter(user: User) -> ColumnElement[bool]:
    return or_(false(), *workable_task_scopes(user))


def _in_role_scope(user: User, task: HumanTask) -> bool:
    """Whether the task belongs to one of the user's groups (``group_task_scopes`` for one row)."""
    role = Role(task.role)
    if role not in user.roles:
        return False
    if role is Role.OFFICIAL:
        return False  # an official's task with no assignee waits for someone to be given it
    if role is Role.PARTY_OFFICE:
        return user.party_id is not None and task.party_id == user.party_id
    if role is Role.COMMITTEE:
        return user.organisation_id is not None and task.organisation_id == user.organisation_id
    return role in (Role.SECURITY, Role.SECURITY_LEAD, Role.TIB)


def can_work_task(user: User, task: HumanTask) -> bool:
    """Do (complete) the task: it is mine, or my group's and nobody has taken it."""
    if not user.is_active:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    return _in_role_scope(user, task)


def can_see_task(user: User, task: HumanTask) -> bool:
    """See the task in my inbox and open its page: ``task_list_scopes`` for one row.

    A colleague's claimed task is seen (who has it, not its form), never worked.
    """
    if not user.is_active:
        return False
    return task.assignee_id == user.id or _in_role_scope(user, task)


def can_claim_task(user: User, task: HumanTask) -> bool:
    """Take a group task for oneself (whether someone already has it is the caller's 409)."""
    return user.is_active and _in_role_scope(user, task)


def can_hold_task(user: User, task: HumanTask) -> bool:
    """Be given the task by the security lead: active, with its role, in its scope."""
    return user.is_active and _in_role_scope(user, task)


def task_holders_filter(task: HumanTask) -> ColumnElement[bool]:
    """``can_hold_task`` in SQL, over users: whom the security lead may give the task to."""
    role = Role(task.role)
    if role not in LANE_ROLES or role is Role.OFFICIAL:
        return false()
    rules: list[ColumnElement[bool]] = [
        User.active.is_(True),
        exists(select(UserRole.id).where(UserRole.user_id == User.id, UserRole.role == role.value)),
    ]
    if role is Role.PARTY_OFFICE:
        if task.party_id is None:
            return false()
        rules.append(User.party_id == task.party_id)
    if role is Role.COMMITTEE:
        if task.organisation_id is None:
            return false()
        rules.append(User.organisation_id == task.organisation_id)
    return and_(*rules)


def can_reassign_task(user: User, task: HumanTask) -> bool:
    """The security lead hands a group task to someone in its group.

    An official's own task concerns the official and goes to no one else.
    """
    return (
        user.is_active
        and Role.SECURITY_LEAD in user.roles
        and task.role in LANE_ROLES
        and task.role != Role.OFFICIAL.value
    )


def inbox_parties_filter(user: User) -> ColumnElement[bool]:
    """The parties the inbox's party filter offers: those my tasks can belong to."""
    if not user.is_active:
        return false()
    if user.has_role(Role.SECURITY, Role.SECURITY_LEAD, Role.TIB, Role.COMMITTEE):
        return true()  # these roles' tasks come from cases of every party
    rules: list[ColumnElement[bool]] = []
    if Role.PARTY_OFFICE in user.roles and user.party_id:
        rules.append(Party.id == user.party_id)
    if Role.OFFICIAL in user.roles and user.person is not None and user.person.party_id:
        rules.append(Party.id == user.person.party_id)
    return or_(false(), *rules)


def visible_cases_filter(user: User) -> ColumnElement[bool]:
    if not user.is_active:
        return false()
    if user.has_role(*CASE_WIDE_ROLES):
        return true()
    rules: list[ColumnElement[bool]] = []
    if Role.OFFICIAL in user.roles and user.person_id:
        rules.append(ProcessInstance.subject_person_id == user.person_id)
    if Role.PARTY_OFFICE in user.roles and user.party_id:
        rules.append(ProcessInstance.party_id == user.party_id)
    # Any role sees a case in which it has been given a task (e.g. a party
    # office told of a threat in a committee's activity).
    for role in (Role.PARTY_OFFICE, Role.COMMITTEE, Role.TIB):
        if role in user.roles:
            rules.append(
                exists(
                    select(HumanTask.id).where(
                        HumanTask.instance_id == ProcessInstance.id, _task_scope(user, role)
                    )
                )
            )
    return or_(false(), *rules)


def can_view_case(user: User, instance: ProcessInstance, session: Any) -> bool:
    """One case: the same rule as the list, asked of the database."""
    found = session.scalar(
        select(ProcessInstance.id).where(
            ProcessInstance.id == instance.id, visible_cases_filter(user)
        )
    )
    return found is not None


def can_start_process(user: User, definition: ProcessDefinition) -> bool:
    starters = set(definition.meta.get("starters", []))
    return user.is_active and any(role.value in starters for role in user.roles)


def reportable_persons_filter(user: User) -> ColumnElement[bool]:
    """Whom this user may start a case about (report for, or on behalf of)."""
    if not user.is_active:
        return false()
    if user.has_role(Role.SECURITY, Role.SECURITY_LEAD, Role.TIB):
        return true()
    rules: list[ColumnElement[bool]] = []
    if Role.PARTY_OFFICE in user.roles and user.party_id:
        rules.append(Person.party_id == user.party_id)
    if Role.OFFICIAL in user.roles and user.person_id:
        rules.append(Person.id == user.person_id)
    return or_(false(), *rules)


def can_report_for(user: User, person: Person, session: Any) -> bool:
    if user.is_active and Role.OFFICIAL in user.roles and user.person_id == person.id:
        return True  # an official reporting for themselves: no need to ask the database
    found = session.scalar(
        select(Person.id).where(Person.id == person.id, reportable_persons_filter(user))
    )
    return found is not None


def can_see_case_list(user: User) -> bool:
    return user.has_role(
        Role.OFFICIAL,
        Role.PARTY_OFFICE,
        Role.SECURITY,
        Role.SECURITY_LEAD,
        Role.TIB,
        Role.COMMITTEE,
    )


def can_see_inbox(user: User) -> bool:
    return can_see_case_list(user)


def visible_note_levels(user: User) -> tuple[NoteVisibility, ...]:
    """The comment and attachment levels this user reads (on cases they may see) and writes."""
    if not user.is_active:
        return ()
    if user.has_role(*CASE_WIDE_ROLES):
        return tuple(NoteVisibility)
    if Role.PARTY_OFFICE in user.roles:
        return (NoteVisibility.CASE, NoteVisibility.SECURITY_AND_PARTY)
    if user.works_cases:
        return (NoteVisibility.CASE,)
    return ()


def note_visibility_filter(user: User, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """SQL condition on a comment's or attachment's ``visibility`` column."""
    levels = visible_note_levels(user)
    return column.in_([level.value for level in levels]) if levels else false()


def can_comment(user: User, instance: ProcessInstance, session: Any) -> bool:
    """Write comments and add attachments: anyone who may see the case and has a level."""
    return bool(visible_note_levels(user)) and can_view_case(user, instance, session)


def can_read_note(user: User, instance: ProcessInstance, visibility: str, session: Any) -> bool:
    allowed = {level.value for level in visible_note_levels(user)}
    return visibility in allowed and can_view_case(user, instance, session)


def can_download_attachment(user: User, attachment: Attachment, session: Any) -> bool:
    instance = session.get(ProcessInstance, attachment.instance_id)
    return instance is not None and can_read_note(user, instance, attachment.visibility, session)


def can_see_process_models(user: User) -> bool:
    """The process designers' pages and diagrams: definitions only, never case data."""
    return user.is_active and Role.DESIGNER in user.roles


def can_migrate_instances(user: User) -> bool:
    """Move running cases between versions of a process: designers, who see case numbers,
    versions and step names only (service/web/migration_views.py)."""
    return user.is_active and Role.DESIGNER in user.roles


POLICE_SUMMARY_PROCESSES = frozenset({"incident", "police_report"})


def can_export_police_summary(user: User, instance: ProcessInstance, session: Any) -> bool:
    """The printable summary for the police of an incident or police-report case.

    Only the official concerned, the party office of the case's party and the
    security department, and only on a case they may see: it gathers the
    case's most sensitive answers in one document that leaves the system.
    """
    if not user.is_active or instance.process_id not in POLICE_SUMMARY_PROCESSES:
        return False
    concerned = (
        Role.OFFICIAL in user.roles
        and user.person_id is not None
        and user.person_id == instance.subject_person_id
    )
    own_party = (
        Role.PARTY_OFFICE in user.roles
        and user.party_id is not None
        and user.party_id == instance.party_id
    )
    if not (concerned or own_party or user.has_role(*CASE_WIDE_ROLES)):
        return False
    return can_view_case(user, instance, session)


# Reports (service/reports, service/web/report_views.py).


def can_see_compliance(user: User) -> bool:
    """The compliance view and its exports: names, dates and protective measures of every
    full-time official, the city's evidence under the law. The security department only."""
    return user.is_active and user.has_role(*CASE_WIDE_ROLES)


@dataclass(frozen=True)
class StatisticsScope:
    """Whose incidents a user's statistics count, and whether small counts may be shown."""

    party_id: int | None  # None: every party's
    exact: bool  # counts of 1 and 2 shown as they are (the security department)


def statistics_scope(user: User) -> StatisticsScope | None:
    """Incident statistics: who sees which, or None.

    - security, security_lead: every incident, exact counts;
    - committee (an administration's or company's security contact): every
      incident, small counts hidden: the view the city council follows;
    - party_office: its own party's incidents, small counts hidden;
    - nobody else (officials, TiB, designer, admin): no statistics.
    """
    if not user.is_active:
        return None
    if user.has_role(*CASE_WIDE_ROLES):
        return StatisticsScope(party_id=None, exact=True)
    if Role.COMMITTEE in user.roles:
        return StatisticsScope(party_id=None, exact=False)
    if Role.PARTY_OFFICE in user.roles and user.party_id:
        return StatisticsScope(party_id=user.party_id, exact=False)
    return None


def statistics_cases_filter(scope: StatisticsScope) -> ColumnElement[bool]:
    """The incident cases a scope's statistics count, as a SQL condition."""
    rule = ProcessInstance.process_id == "incident"
    if scope.party_id is not None:
        return and_(rule, ProcessInstance.party_id == scope.party_id)
    return rule


def can_manage_personal_data(user: User) -> bool:
    """Subject access exports, erasure, the retention overview: the security lead only.

    An export gathers everything held about a person in one document, and
    erasure cannot be undone: one accountable role decides both.
    """
    return user.is_active and Role.SECURITY_LEAD in user.roles


def can_set_legal_hold(user: User, instance: ProcessInstance, session: Any) -> bool:
    """Set or lift a legal hold (stops disposal): the security lead, on a case they see."""
    return can_manage_personal_data(user) and can_view_case(user, instance, session)


def can_release_case(user: User, instance: ProcessInstance, session: Any) -> bool:
    """Release (lämna ut) a case with its secret fields masked: the security department."""
    return (
        user.is_active
        and user.has_role(*CASE_WIDE_ROLES)
        and can_view_case(user, instance, session)
    )
