"""The inbox as a task list: claim, give back, reassign, priority, sorting, filters and counts."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.audit.models import AuditEvent
from service.auth import policy
from service.auth.passwords import hash_password
from service.cases.service import complete_task, start_case
from service.context import Services
from service.db import utcnow
from service.errors import Conflict
from service.jobs.models import Job
from service.notify.email import SmtpSettings, compose
from service.notify.models import Notification
from service.people.demo import DEMO_PASSWORD
from service.people.models import Party, Person, Role, User, UserRole
from service.tasks import claims
from service.tasks.models import HumanTask, Priority
from service.tasks.priority import priority_for
from tests import incident_data as answers
from tests.test_incident_routine import report_incident
from tests.test_rest_api import ApiPerson
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
TASK_ID = re.compile(r'href="/tasks/(\d+)">')
COUNT = re.compile(r">(Öppna|Försenade|Mina|Otilldelade|Klara av mig) <strong>(\d+)</strong>")


# -- helpers ---------------------------------------------------------------------------


def add_user(
    session: Session,
    username: str,
    display_name: str,
    role: Role,
    *,
    party: str | None = None,
    active: bool = True,
) -> User:
    """A real account beside the demo ones (a second person in a group)."""
    party_id = session.scalar(select(Party.id).where(Party.short_name == party)) if party else None
    user = User(
        username=username,
        display_name=display_name,
        email=f"{username}@example.invalid",
        password_hash=hash_password(DEMO_PASSWORD),
        party_id=party_id,
        active=active,
    )
    user.role_rows = [UserRole(role=role.value)]
    session.add(user)
    session.commit()
    return user


def task_in(session: Session, case_id: int, bpmn_id: str) -> HumanTask:
    session.expire_all()
    task = session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == case_id,
            HumanTask.bpmn_id == bpmn_id,
            HumanTask.status == "open",
        )
    )
    assert task is not None, f"no open {bpmn_id} in case {case_id}"
    return task


def post(client: Browser, url: str, data: dict[str, Any] | None = None) -> Any:
    """A form post with the CSRF token of the inbox page (as the inbox's buttons send it)."""
    return client.submit(url, data or {}, form_page="/inbox")


def table(html: str, caption: str) -> list[int]:
    """The task ids of the inbox table with this caption, in the order shown."""
    for part in html.split('<table class="table inbox-table">')[1:]:
        if part.lstrip().startswith(f"<caption>{caption}"):
            return [int(i) for i in TASK_ID.findall(part.split("</table>")[0])]
    raise AssertionError(f"no table {caption!r}")


def counts(html: str) -> dict[str, int]:
    return {name: int(n) for name, n in COUNT.findall(html)}


def audit(session: Session, action: str, task_id: int) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.human_task_id == task_id
            )
        )
    )


# -- claim and give back ---------------------------------------------------------------


def test_claim_then_colleague_sees_who_has_it_and_cannot_do_it(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "security_assessment")
    sara, stefan = browser("sakerhet"), browser("sakerhetschef")

    response = post(sara, f"/tasks/{task.id}/claim")
    assert response.status_code == 302 and response.location == f"/tasks/{task.id}"
    session.refresh(task)
    assert task.assignee_id == user_by_name("sakerhet").id and task.claimed_at is not None
    assert [e.actor.username for e in audit(session, "task.claimed", task.id) if e.actor] == [
        "sakerhet"
    ]

    mine = sara.text("/inbox")
    assert task.id in table(mine, "Mina uppgifter") and task.id not in table(
        mine, "Gruppens uppgifter"
    )
    assert "Lämna tillbaka" in mine
    theirs = stefan.text("/inbox")
    assert task.id in table(theirs, "Gruppens uppgifter")
    assert "Tilldelad Sara Säker" in theirs
    assert f'action="/tasks/{task.id}/claim"' not in theirs  # nothing to take

    page = stefan.text(f"/tasks/{task.id}")
    assert "Tilldelad Sara Säker" in page and "säkerhetschefen tilldela om den" in page
    assert "Klar – skicka" not in page  # who has it, not the form

    refused = stefan.submit(f"/tasks/{task.id}", answers.ASSESSMENT, form_page="/inbox")
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "Sara Säker har tagit uppgiften" in text
    assert "säkerhetschefen tilldela om den" in text
    session.refresh(task)
    assert task.status == "open"


def test_give_back_then_anyone_in_the_group_completes_and_gets_it(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "security_assessment")
    sara, stefan = browser("sakerhet"), browser("sakerhetschef")
    assert post(sara, f"/tasks/{task.id}/claim").status_code == 302

    # Only the holder gives it back.
    assert post(stefan, f"/tasks/{task.id}/unclaim").status_code == 409
    # The form says where to go back to; only the inbox or a task page is followed.
    back = post(sara, f"/tasks/{task.id}/unclaim", {"next": "https://evil.example/inbox"})
    assert back.status_code == 302 and back.location == "/inbox"
    session.refresh(task)
    assert task.assignee_id is None and task.claimed_at is None
    assert len(audit(session, "task.unclaimed", task.id)) == 1
    assert "Uppgiften är tillbaka hos din grupp" in sara.text("/inbox")
    assert post(sara, f"/tasks/{task.id}/claim", {"next": "/inbox?sort=priority"}).location == (
        "/inbox?sort=priority"
    )
    assert (
        post(sara, f"/tasks/{task.id}/unclaim", {"next": "//evil.example/x"}).location == "/inbox"
    )

    # Completing a task nobody has taken makes it the completer's.
    done = stefan.submit(f"/tasks/{task.id}", answers.ASSESSMENT)
    assert done.status_code == 302
    session.expire_all()
    finished = session.get(HumanTask, task.id)
    assert finished is not None and finished.status == "completed"
    assert finished.assignee_id == finished.completed_by_id == user_by_name("sakerhetschef").id


def test_outside_the_group_claiming_is_refused(browser: Make, session: Session) -> None:
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "security_assessment")
    for outsider in ("kansli.gp", "kansli.fp", "tib", "anna"):
        assert post(browser(outsider), f"/tasks/{task.id}/claim").status_code == 403, outsider
    assert post(browser("kansli.gp"), "/tasks/999999/claim").status_code == 404
    session.refresh(task)
    assert task.assignee_id is None


def test_claiming_a_task_someone_just_claimed_is_a_409_naming_them(
    browser: Make, session: Session
) -> None:
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "security_assessment")
    assert post(browser("sakerhet"), f"/tasks/{task.id}/claim").status_code == 302
    second = post(browser("sakerhetschef"), f"/tasks/{task.id}/claim")
    assert second.status_code == 409
    assert "Sara Säker har tagit uppgiften" in second.get_data(as_text=True)
    again = post(browser("sakerhet"), f"/tasks/{task.id}/claim")  # a double click: no change
    assert again.status_code == 302
    assert len(audit(session, "task.claimed", task.id)) == 1


def test_simultaneous_claims_one_wins(
    app: Flask, browser: Make, session: Session, services: Services
) -> None:
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "security_assessment")
    names = ["sakerhet", "sakerhetschef"]
    for n in range(6):
        add_user(session, f"sakerhet{n}", f"Säkerhetshandläggare {n}", Role.SECURITY)
        names.append(f"sakerhet{n}")
    clients = [browser(name) for name in names]
    tokens = [c.csrf_token("/inbox") for c in clients]
    barrier = threading.Barrier(len(clients))
    answered: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def click(client: Browser, token: str) -> None:
        barrier.wait()
        response = client.client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token})
        with lock:
            answered.append(
                (str(client.username), response.status_code, response.get_data(as_text=True))
            )

    threads = [
        threading.Thread(target=click, args=(c, t)) for c, t in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = Counter(status for _name, status, _body in answered)
    assert statuses == Counter({302: 1, 409: len(clients) - 1}), statuses
    winner = next(name for name, status, _body in answered if status == 302)
    session.expire_all()
    held = session.get(HumanTask, task.id)
    assert held is not None and held.assignee is not None and held.assignee.username == winner
    assert len(audit(session, "task.claimed", task.id)) == 1
    for _name, status, body in answered:
        assert "Traceback" not in body
        if status == 409 and services.db.is_postgres:
            # PostgreSQL queues the UPDATEs: each loser reads who won.
            assert f"{held.assignee.display_name} har tagit uppgiften" in body


def test_an_officials_own_task_is_not_given_to_a_group(
    services: Services, session: Session, user_by_name: Callable[[str], User]
) -> None:
    security, anna = user_by_name("sakerhet"), user_by_name("anna")
    subject = session.get(Person, anna.person_id)
    started = start_case(services, session, security, "security_conversation", subject, MultiDict())
    booking = task_in(session, started.instance.id, "book_conversation")
    complete_task(
        services,
        session,
        security,
        booking.id,
        MultiDict(
            {
                "occasion": "annual",
                "proposed_date": "2026-12-10",
                "proposed_time": "10:00",
                "meeting_place": "Stadshuset",
            }
        ),
    )
    session.commit()
    own = task_in(session, started.instance.id, "answer_invitation")
    assert own.role == "official" and own.assignee_id == anna.id and own.claimed_at is None
    assert claims.claim(session, anna, own.id) is False  # already hers
    with pytest.raises(Conflict):
        claims.unclaim(session, anna, own.id)
    lead = user_by_name("sakerhetschef")
    with pytest.raises(Conflict):
        claims.task_for_reassigning(session, lead, own.id)


# -- reassignment by the security lead -----------------------------------------------------


def test_the_security_lead_reassigns_within_the_party(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    second = add_user(session, "kansli.fp2", "Partikansliet (FP) 2", Role.PARTY_OFFICE, party="FP")
    add_user(session, "kansli.fp.gammal", "Slutat", Role.PARTY_OFFICE, party="FP", active=False)
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "party_support")
    first = browser("kansli.fp")
    assert post(first, f"/tasks/{task.id}/claim").status_code == 302

    lead = browser("sakerhetschef")
    case_page = lead.text(f"/cases/{case_id}")
    assert f'href="/tasks/{task.id}/reassign"' in case_page
    assert "Tilldelad Partikansliet (FP)" in case_page
    form = lead.text(f"/tasks/{task.id}/reassign")
    offered = {int(i) for i in re.findall(r'<option value="(\d+)"', form)}
    assert offered == {user_by_name("kansli.fp").id, second.id}  # not GP, not inactive

    response = lead.submit(
        f"/tasks/{task.id}/reassign", {"to_user": str(second.id), "reason": "absence"}
    )
    assert response.status_code == 302 and response.location == f"/cases/{case_id}"
    session.refresh(task)
    assert task.assignee_id == second.id
    [event] = audit(session, "task.reassigned", task.id)
    assert event.actor is not None and event.actor.username == "sakerhetschef"
    assert event.details == {
        "from_user": user_by_name("kansli.fp").id,
        "to_user": second.id,
        "reason": "absence",
    }
    [note] = session.scalars(select(Notification).where(Notification.user_id == second.id)).all()
    assert (note.topic, note.human_task_id, note.instance_id) == ("task_assigned", task.id, case_id)
    assert session.scalar(
        select(func.count(Job.id)).where(
            Job.kind == "notify.email", Job.payload["notification_id"].as_integer() == note.id
        )
    )
    mail = compose(
        note,
        second,
        SmtpSettings("smtp", 25, "from@example.invalid", None, None, False, "https://t"),
    )
    body = mail.get_content()
    assert "Du har fått en uppgift tilldelad" in mail["Subject"]
    for private in ("Anna", "Andersson", "Stöd till den drabbade", "Hot- och"):
        assert private not in body and private not in mail["Subject"]
    # The new holder works it; the former one now sees who has it.
    assert task.id in table(browser("kansli.fp2").text("/inbox"), "Mina uppgifter")
    refused = first.submit(f"/tasks/{task.id}", answers.PARTY_SUPPORT, form_page="/inbox")
    assert refused.status_code == 409
    assert "Partikansliet (FP) 2 har tagit uppgiften" in refused.get_data(as_text=True)
    assert "Tilldelad Partikansliet (FP) 2" in first.text("/inbox")


def test_reassigning_is_refused_to_others_and_to_anyone_outside_the_group(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    inactive = add_user(session, "kansli.fp.gammal", "Slutat", Role.PARTY_OFFICE, party="FP")
    inactive.active = False
    session.commit()
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "party_support")
    for other in ("sakerhet", "kansli.fp", "tib", "anna"):
        client = browser(other)
        assert client.get(f"/tasks/{task.id}/reassign").status_code == 403, other
        target = str(user_by_name("kansli.fp").id)
        refused = post(client, f"/tasks/{task.id}/reassign", {"to_user": target, "reason": "other"})
        assert refused.status_code == 403, other
    lead = browser("sakerhetschef")
    for to_user in ("kansli.gp", "sakerhet", "anna", "kansli.fp.gammal"):
        chosen = {"to_user": str(user_by_name(to_user).id), "reason": "workload"}
        response = lead.submit(f"/tasks/{task.id}/reassign", chosen)
        assert response.status_code == 400, to_user
        assert "Välj någon i listan" in response.get_data(as_text=True)
    fp = str(user_by_name("kansli.fp").id)
    no_reason = lead.submit(f"/tasks/{task.id}/reassign", {"to_user": fp, "reason": "tyckte så"})
    assert no_reason.status_code == 400
    assert "Välj varför uppgiften tilldelas om" in no_reason.get_data(as_text=True)
    session.refresh(task)
    assert task.assignee_id is None
    assert audit(session, "task.reassigned", task.id) == []
    assert (
        session.scalar(
            select(func.count(Notification.id)).where(Notification.topic == "task_assigned")
        )
        == 0
    )


def test_eligible_holders_in_sql_agree_with_the_rule_for_one_user(
    browser: Make, session: Session
) -> None:
    add_user(session, "kansli.fp2", "Partikansliet (FP) 2", Role.PARTY_OFFICE, party="FP")
    report_incident(browser("anna"), danger_ongoing="yes")
    users = list(session.scalars(select(User)))
    tasks = list(session.scalars(select(HumanTask).where(HumanTask.status == "open")))
    assert {t.role for t in tasks} >= {"party_office", "security", "tib"}
    for task in tasks:
        listed = {u.id for u in claims.eligible_assignees(session, task)}
        assert listed == {u.id for u in users if policy.can_hold_task(u, task)}, task.role


# -- priority ------------------------------------------------------------------------------


def test_priority_follows_danger_and_risk_level(
    browser: Make, session: Session, services: Services
) -> None:
    calm = report_incident(browser("anna"))
    danger = report_incident(browser("anna"), danger_ongoing="yes")
    assert task_in(session, calm, "security_assessment").priority == Priority.NORMAL
    assert {
        t.priority
        for t in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == danger, HumanTask.status == "open")
        )
    } == {Priority.URGENT}

    # The assessment says "high": the case's tasks that follow are high priority.
    security = browser("sakerhet")
    assessment = task_in(session, calm, "security_assessment")
    assert security.submit(f"/tasks/{assessment.id}", answers.ASSESSMENT).status_code == 302
    assert task_in(session, calm, "crisis_support").priority == Priority.HIGH

    page = security.text("/inbox")
    assert '<span class="priority priority-1">Akut</span>' in page
    assert '<span class="priority priority-2">Hög</span>' in page


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"danger_ongoing": True, "severity": "low"}, Priority.URGENT),
        ({"danger_ongoing": False, "risk_level": "very_high"}, Priority.HIGH),
        ({"origin_risk_level": "high"}, Priority.HIGH),
        ({"risk_level": "medium", "severity": "low"}, Priority.NORMAL),
        ({"danger_ongoing": "yes", "severity": ["high"]}, Priority.NORMAL),
        ({}, Priority.NORMAL),
    ],
)
def test_the_priority_rule(data: dict[str, Any], expected: Priority) -> None:
    assert priority_for(data) == expected


# -- the list: sorting, filters, counts, overdue ---------------------------------------------


def three_assessments(browser: Make, session: Session) -> list[HumanTask]:
    """Three security tasks with known created, due and priority values (a, b, c)."""
    ids = [report_incident(browser("anna")) for _ in range(3)]
    tasks = [task_in(session, case_id, "security_assessment") for case_id in ids]
    now = utcnow()
    # a: oldest, due last, normal; b: due first, urgent; c: newest, no due date, high.
    settings = [
        (now - timedelta(hours=3), now + timedelta(days=3), Priority.NORMAL),
        (now - timedelta(hours=2), now + timedelta(days=1), Priority.URGENT),
        (now - timedelta(hours=1), None, Priority.HIGH),
    ]
    for task, (created, due, priority) in zip(tasks, settings, strict=True):
        task.created_at, task.due_at, task.priority = created, due, priority.value
    session.commit()
    return tasks


def test_sorting_by_due_priority_and_created(browser: Make, session: Session) -> None:
    a, b, c = (t.id for t in three_assessments(browser, session))
    sara = browser("sakerhet")
    expected = {
        "": [b, a, c],
        "?dir=desc": [a, b, c],  # no due date stays last
        "?sort=priority": [b, c, a],
        "?sort=priority&dir=desc": [a, c, b],
        "?sort=created": [a, b, c],
        "?sort=created&dir=desc": [c, b, a],
    }
    for query, order in expected.items():
        page = sara.text(f"/inbox{query}")
        assert table(page, "Gruppens uppgifter") == order, query
    page = sara.text("/inbox?sort=priority&dir=desc")
    assert re.search(r'<th scope="col" aria-sort="descending">\s*<a href="[^"]*">Prioritet', page)
    assert page.count("aria-sort=") == 2  # the sorted column in each of the two tables
    # The header link turns the order around.
    assert 'href="/inbox?sort=priority">Prioritet' in page


def test_filters_and_counts_agree(browser: Make, session: Session, clock: Any) -> None:
    a, b, c = three_assessments(browser, session)
    david_case = report_incident(browser("david"))  # GP
    d = task_in(session, david_case, "security_assessment")
    b.due_at = utcnow() - timedelta(hours=1)  # overdue
    session.commit()
    sara = browser("sakerhet")
    assert post(sara, f"/tasks/{a.id}/claim").status_code == 302
    assert post(browser("sakerhetschef"), f"/tasks/{c.id}/claim").status_code == 302

    page = sara.text("/inbox")
    assert counts(page) == {
        "Öppna": 4,
        "Försenade": 1,
        "Mina": 1,
        "Otilldelade": 2,
        "Klara av mig": 0,
    }
    assert table(page, "Mina uppgifter") == [a.id]
    assert set(table(page, "Gruppens uppgifter")) == {b.id, c.id, d.id}
    # Overdue is said in words, not only by colour.
    row = page.split(f'href="/tasks/{b.id}">')[0].rsplit("<tr", 1)[1]
    assert 'class="inbox-row overdue"' in row
    assert "Försenad" in page.split(f'href="/tasks/{b.id}">')[1].split("</tr>")[0]

    unclaimed = sara.text("/inbox?show=unclaimed")
    assert "Mina uppgifter" not in unclaimed
    assert set(table(unclaimed, "Gruppens uppgifter")) == {b.id, d.id}
    mine = sara.text("/inbox?show=mine")
    assert table(mine, "Mina uppgifter") == [a.id] and "Gruppens uppgifter" not in mine
    overdue = sara.text("/inbox?overdue=1")
    assert table(overdue, "Gruppens uppgifter") == [b.id] and table(overdue, "Mina uppgifter") == []

    gp = session.scalar(select(Party.id).where(Party.short_name == "GP"))
    by_party = sara.text(f"/inbox?party={gp}")
    assert (
        table(by_party, "Gruppens uppgifter") == [d.id] and table(by_party, "Mina uppgifter") == []
    )
    assert counts(by_party)["Öppna"] == 1
    assert sara.text("/inbox?process=incident").count('href="/tasks/') == 4
    other_process = sara.text("/inbox?process=police_report")
    assert counts(other_process)["Öppna"] == 0 and 'href="/tasks/' not in other_process

    # Done by me: after completing the claimed one.
    assert sara.submit(f"/tasks/{a.id}", answers.ASSESSMENT).status_code == 302
    done = sara.text("/inbox?show=completed")
    assert table(done, "Klara av mig") == [a.id]
    assert counts(done)["Klara av mig"] == 1

    # Time passes: every remaining task with a due date is overdue.
    clock.advance(timedelta(days=30))
    later = counts(browser("sakerhet").text("/inbox"))  # signed in anew: sessions expire
    session.expire_all()
    due_open = session.scalar(
        select(func.count(HumanTask.id)).where(
            HumanTask.status == "open", HumanTask.role == "security", HumanTask.due_at.is_not(None)
        )
    )
    assert later["Försenade"] == due_open and later["Försenade"] >= 2


def test_the_party_filter_offers_only_parties_in_scope(browser: Make, session: Session) -> None:
    report_incident(browser("anna"))
    report_incident(browser("david"))
    fp_office = browser("kansli.fp")
    page = fp_office.text("/inbox")
    assert 'name="party"' not in page  # one party: nothing to choose
    gp = session.scalar(select(Party.id).where(Party.short_name == "GP"))
    crafted = fp_office.get(f"/inbox?party={gp}&sort=sideways")
    assert crafted.status_code == 200
    text = crafted.get_data(as_text=True)
    assert "Ett filter hade ett värde som inte finns att välja" in text
    assert counts(text)["Öppna"] == counts(page)["Öppna"] == 1
    security_page = browser("sakerhet").text("/inbox")
    assert 'name="party"' in security_page and "Gemenskapspartiet" in security_page


def test_lists_and_task_pages_never_disagree(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    report_incident(browser("anna"), danger_ongoing="yes")
    report_incident(browser("david"))
    party_task = session.scalar(select(HumanTask).where(HumanTask.bpmn_id == "party_support"))
    assert party_task is not None
    assert post(browser("kansli.fp"), f"/tasks/{party_task.id}/claim").status_code == 302
    session.expire_all()
    tasks = list(session.scalars(select(HumanTask)))
    for user in session.scalars(select(User)):
        listed = (
            set(session.scalars(select(HumanTask.id).where(or_(*policy.task_list_scopes(user)))))
            if policy.task_list_scopes(user)
            else set()
        )
        workable = set(
            session.scalars(select(HumanTask.id).where(policy.workable_tasks_filter(user)))
        )
        for task in tasks:
            assert (task.id in listed) == policy.can_see_task(user, task), (user.username, task.id)
            assert (task.id in workable) == policy.can_work_task(user, task), (
                user.username,
                task.id,
            )


# -- the REST API ----------------------------------------------------------------------------


def test_claim_and_unclaim_over_the_api(app: Flask, browser: Make, session: Session) -> None:
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "security_assessment")
    sara, stefan = ApiPerson(app, "sakerhet"), ApiPerson(app, "sakerhetschef")

    taken = sara.post(f"/api/v1/tasks/{task.id}/claim", None)
    assert taken.status_code == 200, taken.get_data(as_text=True)
    body = taken.get_json()
    assert body["assignee"] == "Sara Säker" and body["assigned_to_me"] and body["workable"]
    assert body["priority"] == 3 and body["claimed_at"]

    refused = stefan.post(f"/api/v1/tasks/{task.id}/claim", None)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["detail"].startswith("Sara Säker has taken the task")
    seen = stefan.get(f"/api/v1/tasks/{task.id}").get_json()
    assert seen["workable"] is False and seen["prefill"] == {}
    assert task.id not in {t["id"] for t in stefan.get("/api/v1/tasks").get_json()}
    completion = stefan.post(f"/api/v1/tasks/{task.id}/completion", {"data": {"severity": "low"}})
    assert completion.status_code == 409 and "Sara Säker" in completion.get_json()["detail"]
    assert (
        ApiPerson(app, "kansli.gp").post(f"/api/v1/tasks/{task.id}/claim", None).status_code == 403
    )
    assert sara.post(f"/api/v1/tasks/{task.id}/claim", None, csrf=False).status_code == 400

    back = sara.post(f"/api/v1/tasks/{task.id}/unclaim", None)
    assert back.status_code == 200 and back.get_json()["assignee"] is None
    assert sara.post(f"/api/v1/tasks/{task.id}/unclaim", None).status_code == 200  # no change
    assert len(audit(session, "task.unclaimed", task.id)) == 1


def test_counts_stop_at_the_cap(
    browser: Make, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts read at most the cap from each index range: above it the page says "N+"."""
    from service.tasks import queries
    from service.web import task_views

    for _ in range(3):
        report_incident(browser("anna"))
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    monkeypatch.setattr(task_views, "COUNT_CAP", 2)
    page = browser("sakerhet").text("/inbox")
    assert "Öppna <strong>2+</strong>" in page
    assert "Mina <strong>0</strong>" in page
    assert len(table(page, "Gruppens uppgifter")) == 3  # the list itself is not capped


def test_a_form_sent_back_with_errors_does_not_take_the_task(
    browser: Make, session: Session
) -> None:
    case_id = report_incident(browser("anna"))
    task = task_in(session, case_id, "security_assessment")
    response = browser("sakerhet").submit(f"/tasks/{task.id}", {"severity": "bogus"})
    assert response.status_code == 400
    session.refresh(task)
    assert (task.status, task.assignee_id) == ("open", None)
