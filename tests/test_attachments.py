"""Evidence files: accepted by what they are, stored privately, handed out only to the right people."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.audit.models import AuditEvent
from service.casenotes import sniff
from service.casenotes.attachments import (
    MAX_ATTACHMENT_BYTES,
    add_attachment,
    attachments_visible_to,
    clean_file_name,
)
from service.casenotes.models import Attachment
from service.casenotes.storage import AttachmentStore
from service.cases.models import ProcessInstance
from service.config import PROJECT_ROOT
from service.context import Services
from service.people.models import User
from tests.browser_fixtures import (  # noqa: F401 - fixtures
    chromium,
    live_server,
    needs_chromium,
    phone,
    sign_in,
)
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>'


def email_bytes() -> bytes:
    message = EmailMessage()
    message["From"] = "okand@example.com"
    message["To"] = "anna.andersson@stockholm.se"
    message["Subject"] = "Vi vet var du bor"
    message["Date"] = "Thu, 26 Nov 2026 22:40:00 +0100"
    message["Message-ID"] = "<123@example.com>"
    message.set_content("Du borde passa dig.")
    return message.as_bytes()


def upload(
    client: Browser,
    case_id: int,
    content: bytes,
    name: str,
    visibility: str = "case",
    description: str = "",
    browser_type: str = "application/octet-stream",
) -> TestResponse:
    token = client.csrf_token(f"/cases/{case_id}")
    return client.client.post(
        f"/cases/{case_id}/attachments",
        data={
            "csrf_token": token,
            "visibility": visibility,
            "description": description,
            "file": (io.BytesIO(content), name, browser_type),
        },
        content_type="multipart/form-data",
    )


def stored_files(services: Services) -> list[Path]:
    root = services.settings.attachments_dir
    return sorted(p for p in root.iterdir()) if root.exists() else []


def rows(session: Session, case_id: int) -> list[Attachment]:
    session.expire_all()
    return list(
        session.scalars(
            select(Attachment).where(Attachment.instance_id == case_id).order_by(Attachment.id)
        )
    )


@pytest.fixture
def case_id(browser: Make) -> int:
    return report_incident(browser("anna"), danger_ongoing="yes")


@pytest.mark.parametrize(
    ("content", "name", "media_type"),
    [
        (PNG, "skärmbild.png", "image/png"),
        (PDF, "polisanmälan.pdf", "application/pdf"),
        (email_bytes(), "hotmejl.eml", "message/rfc822"),
    ],
)
def test_evidence_is_accepted_and_stored_under_a_random_name_outside_the_web_root(
    browser: Make,
    case_id: int,
    session: Session,
    services: Services,
    content: bytes,
    name: str,
    media_type: str,
) -> None:
    response = upload(browser("anna"), case_id, content, name, description="Meddelandet")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    (row,) = rows(session, case_id)
    assert response.location == f"/cases/{case_id}#attachment-{row.id}"
    assert row.media_type == media_type
    assert row.original_name == name
    assert row.size == len(content)
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert row.visibility == "case" and row.description == "Meddelandet"

    (path,) = stored_files(services)
    assert path.name == row.stored_name and re.fullmatch(r"[0-9a-f]{32}", path.name)
    assert path.read_bytes() == content
    assert path.stat().st_mode & 0o077 == 0, "readable by the service only"
    static = (PROJECT_ROOT / "service" / "static").resolve()
    assert static not in path.resolve().parents
    assert not any(name in str(p) for p in static.rglob("*")), "never under the web root"

    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "attachment.added")).one()
    assert event.instance_id == case_id
    assert event.details == {
        "attachment": row.id,
        "media_type": media_type,
        "size": len(content),
        "visibility": "case",
    }, "ids, type and size: never the file's name"
    assert name in browser("sakerhet").text(f"/cases/{case_id}")
    stored_name, stored_description = session.execute(
        text("SELECT original_name, description FROM case_attachment")
    ).one()
    assert stored_name.startswith("f1:") and stored_description.startswith("f1:")
    assert name not in stored_name, "the file's name is encrypted at rest"


@pytest.mark.parametrize(
    ("content", "name", "browser_type"),
    [
        (EXE, "kvitto.pdf", "application/pdf"),
        (HTML, "meddelande.txt", "text/plain"),
        (SVG, "bild.png", "image/png"),
        (b"\x00\x01\x02binary", "data.txt", "text/plain"),
    ],
)
def test_other_kinds_are_refused_whatever_their_name_or_declared_type(
    browser: Make,
    case_id: int,
    session: Session,
    services: Services,
    content: bytes,
    name: str,
    browser_type: str,
) -> None:
    response = upload(browser("anna"), case_id, content, name, browser_type=browser_type)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Den här sortens fil går inte att lägga till." in page
    assert "bilder (PNG, JPEG, GIF, WebP, HEIC), PDF-dokument" in page, "says what is allowed"
    assert rows(session, case_id) == [] and stored_files(services) == []


def test_a_large_file_passes_the_app_wide_limit_but_one_over_15_mb_is_refused_in_swedish(
    browser: Make, case_id: int, session: Session, services: Services
) -> None:
    anna = browser("anna")
    three_mb = PDF + b"%" * (3 * 1024 * 1024)
    assert upload(anna, case_id, three_mb, "skannad.pdf").status_code == 302
    too_big = PDF + b"%" * MAX_ATTACHMENT_BYTES
    response = upload(anna, case_id, too_big, "stor.pdf", description="Hela utredningen")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Filen är större än 15 MB." in page
    assert "Rapportera händelse" in page, "the case page, not a bare error page"
    assert [r.size for r in rows(session, case_id)] == [len(three_mb)]
    assert len(stored_files(services)) == 1
    # Other routes keep the 2 MB limit.
    assert (
        anna.client.post("/notifications/read-all", data={"x": "y" * (3 * 1024 * 1024)}).status_code
        == 413
    )


def test_an_upload_over_the_request_limit_gets_the_case_page_with_the_reason(
    browser: Make, case_id: int, session: Session, services: Services
) -> None:
    anna = browser("anna")
    response = upload(anna, case_id, PDF + b"%" * (16 * 1024 * 1024), "mycket_stor.pdf")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Filen är större än 15 MB." in page and "Lägg till en fil" in page
    assert rows(session, case_id) == [] and stored_files(services) == []


def test_upload_needs_a_file_a_valid_level_and_a_csrf_token(
    browser: Make, case_id: int, session: Session
) -> None:
    anna = browser("anna")
    token = anna.csrf_token(f"/cases/{case_id}")
    no_file = anna.client.post(
        f"/cases/{case_id}/attachments",
        data={"csrf_token": token, "visibility": "case", "description": "Bild från mejlet"},
        content_type="multipart/form-data",
    )
    assert no_file.status_code == 400
    page = no_file.get_data(as_text=True)
    assert "Välj en fil att lägga till." in page and 'value="Bild från mejlet"' in page
    assert upload(anna, case_id, PNG, "a.png", visibility="security").status_code == 400
    assert upload(anna, case_id, b"", "tom.png").status_code == 400
    no_token = anna.client.post(
        f"/cases/{case_id}/attachments",
        data={"visibility": "case", "file": (io.BytesIO(PNG), "a.png")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400
    assert rows(session, case_id) == []


def test_download_is_authorised_audited_and_served_as_a_safe_attachment(
    browser: Make, case_id: int, session: Session
) -> None:
    assert upload(browser("anna"), case_id, PNG, "skärmbild.png").status_code == 302
    (row,) = rows(session, case_id)
    url = f"/cases/{case_id}/attachments/{row.id}"
    assert f'href="{url}"' in browser("kansli.fp").text(f"/cases/{case_id}")
    response = browser("sakerhet").get(url)
    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''sk%C3%A4rmbild.png" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "no-store" in response.headers["Cache-Control"]
    downloads = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "attachment.downloaded")
    ).all()
    assert [(e.instance_id, e.details) for e in downloads] == [(case_id, {"attachment": row.id})]
    assert downloads[0].actor is not None and downloads[0].actor.username == "sakerhet"


def test_security_only_evidence_is_hidden_from_everyone_else(
    browser: Make, case_id: int, session: Session
) -> None:
    security = browser("sakerhet")
    response = upload(security, case_id, PDF, "registerutdrag.pdf", visibility="security")
    assert response.status_code == 302
    (row,) = rows(session, case_id)
    url = f"/cases/{case_id}/attachments/{row.id}"
    assert browser("sakerhetschef").get(url).status_code == 200
    for username in ("kansli.fp", "anna", "tib"):
        client = browser(username)
        assert client.get(url).status_code == 404, username
        page = client.text(f"/cases/{case_id}")
        assert "registerutdrag.pdf" not in page and url not in page, username
        assert "Fil tillagd" not in page, "not even the history row"
        api = client.get(f"/api/v1/cases/{case_id}").get_json()
        assert api["attachments"] == [], username
    for username in ("david", "kansli.gp", "namnd", "designer", "admin"):
        assert browser(username).get(url).status_code in (403, 404), username
    assert browser(None).get(url).status_code == 302  # to the sign-in page
    # The wrong case in the address is not a way around it.
    other = report_incident(browser("anna"))
    assert security.get(f"/cases/{other}/attachments/{row.id}").status_code == 404
    downloads = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "attachment.downloaded")
    ).all()
    assert len(downloads) == 1, "only the allowed download is recorded"


def test_visible_attachments_function_follows_the_same_rules(
    browser: Make, case_id: int, session: Session, user_by_name: Callable[[str], User]
) -> None:
    security = browser("sakerhet")
    for level in ("case", "security_party", "security"):
        assert upload(security, case_id, PNG, f"{level}.png", visibility=level).status_code == 302
    seen = {
        name: [
            a.original_name for a in attachments_visible_to(session, user_by_name(name), case_id)
        ]
        for name in ("sakerhetschef", "kansli.fp", "anna", "david", "admin")
    }
    assert seen == {
        "sakerhetschef": ["case.png", "security_party.png", "security.png"],
        "kansli.fp": ["case.png", "security_party.png"],
        "anna": ["case.png"],
        "david": [],  # not his case
        "admin": [],
    }


def test_a_changed_or_missing_file_is_never_served(
    browser: Make, case_id: int, session: Session, services: Services
) -> None:
    assert upload(browser("anna"), case_id, PNG, "bild.png").status_code == 302
    (row,) = rows(session, case_id)
    path = services.settings.attachments_dir / row.stored_name
    path.write_bytes(PNG + b"tampered")
    url = f"/cases/{case_id}/attachments/{row.id}"
    response = browser("sakerhet").get(url)
    assert response.status_code == 503
    assert "Filen går inte att öppna just nu." in response.get_data(as_text=True)
    path.unlink()
    assert browser("sakerhet").get(url).status_code == 503


def test_the_file_is_removed_when_the_database_refuses_the_row(
    case_id: int,
    session: Session,
    services: Services,
    user_by_name: Callable[[str], User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing_record(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("service.casenotes.attachments.record", failing_record)
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    store = AttachmentStore(services.settings.attachments_dir)
    with pytest.raises(RuntimeError):
        add_attachment(
            session,
            store,
            user_by_name("anna"),
            instance,
            file_name="bild.png",
            content=PNG,
            visibility="case",
            description=None,
        )
    assert stored_files(services) == [], "no orphan file, no half-written part file"
    assert rows(session, case_id) == []


def test_the_store_refuses_the_web_root_and_foreign_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="web root"):
        AttachmentStore(PROJECT_ROOT / "service" / "static" / "uploads")
    store = AttachmentStore(tmp_path)
    for bad in ("../secret_key", "a" * 32 + "/x", "bild.png", ""):
        with pytest.raises(ValueError):
            store.path(bad)


@pytest.mark.parametrize(
    ("raw", "content", "expected"),
    [
        ("../../etc/passwd.png", PNG, "passwd.png"),
        ("C:\\Users\\anna\\Skrivbord\\hot.png", PNG, "hot.png"),
        ("<script>alert(1)</script>.png", PNG, "script_.png"),  # "/" ends a path part
        ('"onload=x.png', PNG, "_onload_x.png"),
        ("bild.pdf", PNG, "bild.pdf.png"),
        ("rapport", PDF, "rapport.pdf"),
        ("..", PDF, "bilaga.pdf"),
        ("Brev från nämnden.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "Brev från nämnden.JPG"),
        ("a\u202egnp.exe", PNG, "agnp.exe.png"),
    ],
)
def test_file_names_are_cleaned_and_given_their_true_extension(
    raw: str, content: bytes, expected: str
) -> None:
    kind = sniff.detect(content)
    assert kind is not None
    assert clean_file_name(raw, kind) == expected


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf", "image/heic"),
        ("Hej!\r\nDu kommer att ångra dig.\r\n".encode(), "text/plain"),
        ("Hotet kom på fredag, sa hon.".encode("cp1252"), "text/plain"),
        (
            b"From MAILER-DAEMON Thu Nov 26 22:40:00 2026\nFrom: x@example.com\n"
            b"To: y@example.com\nSubject: hej\n\nText",
            "message/rfc822",
        ),
    ],
)
def test_the_sniffer_recognises_each_accepted_kind(content: bytes, media_type: str) -> None:
    kind = sniff.detect(content)
    assert kind is not None and kind.media_type == media_type


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42",  # an MP4 video
        b"PK\x03\x04\x14\x00\x06\x00",  # a zip (or Word document)
        b"#!/bin/sh\nrm -rf /\x00",
        b"<?xml version='1.0'?><note>hej</note>",
        b"   <html><body>hej</body></html>",
        b"Subject: only one header\n\nbody",  # text, not an e-mail: checked as text below
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # an Outlook .msg (OLE)
    ],
)
def test_the_sniffer_refuses_the_rest(content: bytes) -> None:
    kind = sniff.detect(content)
    assert kind is None or kind.media_type == "text/plain"
    if content.startswith(b"Subject"):
        assert kind is not None and kind.media_type == "text/plain"
    else:
        assert kind is None


@needs_chromium
def test_a_person_adds_a_screenshot_from_a_phone_and_a_too_large_file_is_stopped_at_once(
    app: Any,
    live_server: str,  # noqa: F811
    phone: Any,  # noqa: F811
    case_id: int,
    session: Session,
) -> None:
    sign_in(phone, live_server, "anna", app)
    phone.goto(f"{live_server}/cases/{case_id}")
    phone.locator("#attachment-file").set_input_files(
        {"name": "skärmbild.png", "mimeType": "image/png", "buffer": PNG}
    )
    phone.locator("#attachment-description").fill("Meddelandet på Instagram")
    with phone.expect_navigation():
        phone.get_by_role("button", name="Lägg till filen").click()
    assert phone.url.endswith(f"#attachment-{rows(session, case_id)[0].id}")
    assert phone.get_by_role("link", name="skärmbild.png").is_visible()

    requests: list[str] = []
    phone.on("request", lambda request: requests.append(request.method))
    phone.locator("#attachment-file").set_input_files(
        {
            "name": "film.pdf",
            "mimeType": "application/pdf",
            "buffer": PDF + b"%" * MAX_ATTACHMENT_BYTES,
        }
    )
    assert phone.locator("#attachment-file-too-large").is_visible()
    phone.get_by_role("button", name="Lägg till filen").click()
    phone.wait_for_timeout(300)
    assert "POST" not in requests, "refused in the browser, without uploading"
    assert len(rows(session, case_id)) == 1
