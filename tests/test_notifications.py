"""Notifications: e-mails through a real SMTP server, the in-app list, and failing jobs for admins.

The SMTP server is aiosmtpd, started by the test on a free port; "SMTP down" is
a free port with nothing listening on it.
"""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

import service.jobs.kinds  # noqa: F401 - registers notify.email
from service import clock
from service.audit.models import AuditEvent
from service.context import Services
from service.jobs.models import Job, JobStatus
from service.jobs.runner import run_due_jobs
from service.notify.models import Notification
from service.people.models import User
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.test_incident_routine import complete, report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]

BASE_URL = "https://trygg.example.test"
LINK = re.compile(re.escape(BASE_URL) + r"/notifications/(\d+)")


@dataclass
class Mail:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        raw = envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        message = email.message_from_bytes(data, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, username: str) -> list[Mail]:
        return [m for m in self.mails if f"{username}@example.invalid" in m.recipients]


@dataclass
class SmtpServer:
    port: int
    collector: Collector


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    collector = Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, collector)
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> SmtpServer:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("TRYGG_BASE_URL", BASE_URL)
    for unset in ("SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS"):
        monkeypatch.delenv(unset, raising=False)
    return smtp_server


@pytest.fixture
def moved_clock() -> Iterator[clock.OffsetClock]:
    """The service clock, moved instead of sleeping through the back-off."""
    offset = clock.OffsetClock()
    previous = clock.install(offset)
    try:
        yield offset
    finally:
        clock.install(previous)


def _notes(session: Session, case_id: int) -> dict[str, list[Notification]]:
    """The case's notifications by recipient's username."""
    session.expire_all()
    rows = session.execute(
        select(User.username, Notification)
        .join(User, User.id == Notification.user_id)
        .where(Notification.instance_id == case_id)
        .order_by(Notification.id)
    ).all()
    found: dict[str, list[Notification]] = {}
    for username, note in rows:
        found.setdefault(username, []).append(note)
    return found


def _task_id(session: Session, case_id: int, bpmn_id: str) -> int:
    found = session.scalar(
        select(HumanTask.id).where(HumanTask.instance_id == case_id, HumanTask.bpmn_id == bpmn_id)
    )
    assert found is not None, bpmn_id
    return found


def _fan_out(services: Services) -> None:
    """The worker's first step after a new task: notifications from the notify.new_tasks job."""
    from service.notify.service import notify_new_tasks

    with services.db.sessions() as session:
        queued = select(Job).where(Job.kind == "notify.new_tasks", Job.status == "queued")
        for job in session.scalars(queued):
            notify_new_tasks(services, session, job.payload)
            job.status = JobStatus.DONE.value
        session.commit()


def _email_jobs(session: Session, note_ids: set[int]) -> list[Job]:
    session.expire_all()
    jobs = [
        job
        for job in session.scalars(select(Job).where(Job.kind == "notify.email").order_by(Job.id))
        if int(job.payload["notification_id"]) in note_ids
    ]
    assert len(jobs) == len(note_ids)
    return jobs


SECRET_VALUES = (
    answers.report()["description"],
    answers.report()["exact_words"],
    answers.report()["location"],
    "Anna Andersson",
    "Anna",
    "Andersson",
    "Framstegspartiet",
)


def test_a_new_task_is_mailed_to_the_role_without_case_content_and_links_back(
    browser: Make, session: Session, services: Services, mail_settings: SmtpServer
) -> None:
    case_id = report_incident(browser("anna"))
    _fan_out(services)
    notes = _notes(session, case_id)
    assert {"sakerhet", "sakerhetschef", "kansli.fp"} <= set(notes)
    assert "kansli.gp" not in notes, "another party's office is not told"

    assert run_due_jobs(services) >= sum(len(n) for n in notes.values())
    mails = mail_settings.collector
    for username in ("sakerhet", "sakerhetschef", "kansli.fp"):
        assert len(mails.to(username)) == len(notes[username]), username
    assert mails.to("kansli.gp") == []

    ids_by_user = {u: {n.id for n in ns} for u, ns in notes.items()}
    for mail in mails.mails:
        text = f"{mail.subject}\n{mail.body}"
        raw = mail.message.as_string()
        for secret in SECRET_VALUES:
            assert secret not in text and secret not in raw, (secret, mail.recipients)
        assert "Du har en ny uppgift" in mail.subject
        link = LINK.search(mail.body)
        assert link, mail.body
        (username,) = (u for u in ids_by_user if f"{u}@example.invalid" in mail.recipients)
        assert int(link.group(1)) in ids_by_user[username], "the link is the recipient's own"
    session.expire_all()
    assert all(n.emailed_at is not None for ns in _notes(session, case_id).values() for n in ns)
    assert run_due_jobs(services) == 0, "each mail is sent once"

    # The in-app list: newest first, unread marked, the Swedish headline and the case number.
    security = browser("sakerhet")
    (note,) = notes["sakerhet"]
    page = security.text("/notifications")
    assert "Du har en ny uppgift" in page
    assert f"Ärendenummer {case_id}" in page
    assert "Oläst" in page and "Öppnar uppgiften" in page
    assert f'href="/notifications/{note.id}"' in page
    assert 'class="unread-count">(1' in page, "the header counts the unread"
    for secret in SECRET_VALUES:
        assert secret not in page

    # Someone else's notification does not exist for them.
    for other in ("kansli.gp", "sakerhetschef", "anna"):
        assert browser(other).get(f"/notifications/{note.id}").status_code == 404, other
    session.expire_all()
    assert session.get(Notification, note.id).read_at is None  # type: ignore[union-attr]

    # Following the e-mail's link marks it read and opens the task.
    followed = security.get(f"/notifications/{note.id}")
    assert followed.status_code == 302
    assert followed.location == f"/tasks/{_task_id(session, case_id, 'security_assessment')}"
    session.expire_all()
    assert session.get(Notification, note.id).read_at is not None  # type: ignore[union-attr]
    page = security.text("/notifications")
    assert "Oläst" not in page and "unread-count" not in page

    party_office = browser("kansli.fp")
    (party_note,) = notes["kansli.fp"]
    assert party_office.get(f"/notifications/{party_note.id}").location == (
        f"/tasks/{_task_id(session, case_id, 'party_support')}"
    )

    # Once the task is done by a colleague, the link leads to the case instead.
    complete(security, "Bedöm händelsen", answers.ASSESSMENT, case_id)
    lead = browser("sakerhetschef")
    (lead_note,) = notes["sakerhetschef"]
    assert "Öppnar ärendet" in lead.text("/notifications")
    assert lead.get(f"/notifications/{lead_note.id}").location == f"/cases/{case_id}"

    # Mark all as read.
    _fan_out(services)
    new_notes = {n.id for n in _notes(session, case_id)["sakerhetschef"]} - {lead_note.id}
    assert new_notes, "the assessment gave the security department new tasks"
    response = lead.submit("/notifications/read-all", {}, form_page="/notifications")
    assert response.status_code == 302 and response.location == "/notifications"
    session.expire_all()
    assert all(n.read_at is not None for n in _notes(session, case_id)["sakerhetschef"])
    assert "unread-count" not in lead.text("/notifications")


def test_read_all_needs_the_form_token(browser: Make) -> None:
    security = browser("sakerhet")
    assert security.client.post("/notifications/read-all").status_code == 400
    assert browser(None).get("/notifications").status_code == 302, "sign in first"


def test_mail_failures_back_off_then_the_dead_job_waits_for_an_administrator(
    browser: Make,
    session: Session,
    services: Services,
    mail_settings: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    moved_clock: clock.OffsetClock,
) -> None:
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nothing listens there
    case_id = report_incident(browser("anna"))
    _fan_out(services)
    notes = {n.id: user for user, ns in _notes(session, case_id).items() for n in ns}
    jobs = _email_jobs(session, set(notes))

    before = clock.now()
    assert run_due_jobs(services) == len(jobs)
    for job in _email_jobs(session, set(notes)):
        assert job.status == JobStatus.QUEUED.value and job.attempts == 1
        assert job.run_at >= before + timedelta(seconds=9), "retried later, not now"
        assert "ConnectionRefusedError" in (job.last_error or "")
    assert run_due_jobs(services) == 0, "not before the back-off"
    assert mail_settings.collector.mails == []

    admin = browser("admin")
    page = admin.text("/administration/jobs")
    assert page.count("notify.email") == len(jobs) and "Prövas igen" in page

    gaps = []
    for attempt in range(2, jobs[0].max_attempts + 1):
        previous_run = _email_jobs(session, set(notes))[0].run_at
        moved_clock.advance(timedelta(hours=2))
        assert run_due_jobs(services) == len(jobs)
        job = _email_jobs(session, set(notes))[0]
        assert job.attempts == attempt
        if job.status == JobStatus.QUEUED.value:
            gaps.append(job.run_at - clock.now())
            assert job.run_at > previous_run
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1], "the back-off grows"
    dead = _email_jobs(session, set(notes))
    assert {j.status for j in dead} == {JobStatus.DEAD.value}
    assert all(j.attempts == j.max_attempts for j in dead)
    moved_clock.advance(timedelta(days=1))
    assert run_due_jobs(services) == 0, "a dead job is kept, not run again by itself"

    # Shown to administrators with its error and a retry button; nobody else may see it.
    admin = browser("admin")  # a day has passed: the earlier session has timed out
    page = admin.text("/administration/jobs")
    assert "Inga fler försök" in page and "ConnectionRefusedError" in page
    target = dead[0]
    assert f'action="/administration/jobs/{target.id}/retry"' in page
    assert 'href="/administration/jobs"' in admin.text("/administration")
    for username in ("anna", "sakerhet", "sakerhetschef", "kansli.fp", "designer"):
        other = browser(username)
        assert other.get("/administration/jobs").status_code == 403, username
        refused = other.submit(
            f"/administration/jobs/{target.id}/retry", {}, form_page="/notifications"
        )
        assert refused.status_code == 403, username
    session.expire_all()
    assert session.get(Job, target.id).status == JobStatus.DEAD.value  # type: ignore[union-attr]

    # The administrator's retry requeues it; with the server up it is sent.
    monkeypatch.setenv("SMTP_PORT", str(mail_settings.port))
    retried = admin.submit(
        f"/administration/jobs/{target.id}/retry", {}, form_page="/administration/jobs"
    )
    assert retried.status_code == 302 and retried.location == "/administration/jobs"
    session.expire_all()
    requeued = session.get(Job, target.id)
    assert requeued is not None and requeued.status == JobStatus.QUEUED.value
    assert requeued.attempts == 0
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "job.retried")).all()
    admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    assert [(a.actor_id, a.details) for a in audit] == [(admin_id, {"job": target.id})]

    assert run_due_jobs(services) == 1, "only the retried job runs"
    session.expire_all()
    assert session.get(Job, target.id).status == JobStatus.DONE.value  # type: ignore[union-attr]
    note_id = int(target.payload["notification_id"])
    (mail,) = mail_settings.collector.mails
    assert mail.recipients == [f"{notes[note_id]}@example.invalid"]
    assert LINK.search(mail.body).group(1) == str(note_id)  # type: ignore[union-attr]
    assert f'id="job-{target.id}"' not in admin.text("/administration/jobs")
