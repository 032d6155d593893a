"""Send a notification's e-mail over SMTP (a job, retried by the worker when it fails).

The mail says that something waits and links to the service; it never names
the person, the case's kind or anything typed into it.
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from service.db import utcnow
from service.jobs.queue import handler
from service.notify.messages import EMAIL_BODY, headline, swedish
from service.notify.models import Notification
from service.people.models import User


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None
    password: str | None
    starttls: bool
    base_url: str

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        host = os.environ.get("SMTP_HOST")
        if not host:
            return None  # e-mail is off; notifications stay in the app
        return cls(
            host=host,
            port=int(os.environ.get("SMTP_PORT", "25")),
            sender=os.environ.get("SMTP_FROM", "trygg-i-uppdraget@localhost"),
            username=os.environ.get("SMTP_USERNAME") or None,
            password=os.environ.get("SMTP_PASSWORD") or None,
            starttls=os.environ.get("SMTP_STARTTLS", "0") == "1",
            base_url=os.environ.get("TRYGG_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        )


def compose(note: Notification, user: User, settings: SmtpSettings) -> EmailMessage:
    sv = swedish()
    title = headline(note.topic, sv)
    link = f"{settings.base_url}/notifications/{note.id}"
    message = EmailMessage()
    message["Subject"] = f"Trygg i uppdraget: {title}"
    message["From"] = settings.sender
    message["To"] = str(user.email)
    message.set_content(sv.gettext(EMAIL_BODY) % {"headline": title, "link": link})
    return message


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=20) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password)
        smtp.send_message(message)


@handler("notify.email")
def email_notification(_services: Any, session: Session, payload: dict[str, Any]) -> None:
    note = session.get(Notification, int(payload["notification_id"]))
    if note is None or note.emailed_at is not None:
        return
    settings = SmtpSettings.from_env()
    user = session.get(User, note.user_id)
    if settings is None or user is None or not user.email or not user.active:
        return
    send(compose(note, user, settings), settings)
    note.emailed_at = utcnow()
