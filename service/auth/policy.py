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
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from service.cases.models import ProcessInstance
from service.definitions.models import ProcessDefinition
from service.people.models import LANE_ROLES, Person, Role, User
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


def workable_task_scopes(user: User) -> list[ColumnElement[bool]]:
    """Each way a task can be this user's, as separate conditions (their OR is the rule).

    Kept apart so the inbox can read each from its own index instead of
    sorting every open task of every role.
    """
    if not user.is_active:
        return []
    # A task assigned to a person is theirs whatever their roles (an official's
    # own task, or one handed to whoever acts on the official's behalf).
    scopes: list[ColumnElement[bool]] = [HumanTask.assignee_id == user.id]
    scopes += [_task_scope(user, role) for role in user.roles if role in LANE_ROLES]
    return scopes


def workable_tasks_filter(user: User) -> ColumnElement[bool]:
    return or_(false(), *workable_task_scopes(user))


def can_work_task(user: User, task: HumanTask) -> bool:
    if not user.is_active:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == user.id
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
