"""Data protection for the security lead: subject access, erasure, retention; legal holds.

Every page here is the security lead's (policy.can_manage_personal_data and
can_set_legal_hold). Exports and erasures are audited with ids and counts,
never names or what was written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from service.audit.service import record
from service.auth import policy
from service.cases import queries
from service.cases.models import ProcessInstance
from service.db import utcnow
from service.errors import N_, DomainError, Forbidden
from service.privacy import erasure
from service.privacy.subject import (
    REVIEW_FILE,
    REVIEW_FREE_TEXT,
    REVIEW_OTHER_PERSON,
    REVIEW_SECRET,
    REVIEW_STAFF,
    AnswerField,
    Review,
    Subject,
    SubjectExport,
    build_export,
    resolve_subject,
    search_subjects,
)
from service.retention import holds
from service.retention.disposal import (
    CaseRetention,
    KeepReason,
    case_retention,
    plan_disposal,
)
from service.retention.models import DisposalRecord, LegalHold
from service.retention.rules import RetentionRulesError
from service.secrecy.grounds import GROUNDS
from service.secrecy.models import ReleaseDecision
from service.secrecy.release import decisions_of
from service.web.form_view import display_value, option_sources
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

bp = Blueprint("privacy", __name__)

KIND = "<any(people, accounts):kind>"


def _require_lead() -> None:
    if not policy.can_manage_personal_data(user()):
        raise Forbidden(N_("Only the security lead may handle requests about personal data."))


def review_texts() -> dict[str, str]:
    return {
        REVIEW_SECRET: _(
            "Secret under the provision given unless the harm test allows release; it does not "
            "protect the person themselves, so try it before handing it over."
        ),
        REVIEW_OTHER_PERSON: _(
            "The case is about someone else: hand over only what concerns the person asking."
        ),
        REVIEW_FREE_TEXT: _(
            "Free text may name others (a perpetrator, witnesses, relatives): remove what "
            "concerns them before handing it over."
        ),
        REVIEW_FILE: _(
            "The file's content is not included: open it and try it before handing it over."
        ),
        REVIEW_STAFF: _(
            "The names of staff who read or handled the case need not be given; the times and "
            "what was done must be."
        ),
    }


def keep_texts() -> dict[str, str]:
    return {
        KeepReason.LEGAL_HOLD: _("legal hold"),
        KeepReason.LINKED_LEGAL_HOLD: _("legal hold on a linked case"),
        KeepReason.ALARM_REGISTERED: _("an alarm registered through the case is still registered"),
        KeepReason.IN_FORCE: _("the measure is still in force (no end date)"),
    }


def relation_texts() -> dict[str, str]:
    return {
        "subject": _("The case is about the person"),
        "reporter": _("The person reported it"),
        "handler": _("The person worked on the case"),
    }


def erasure_texts() -> dict[str, str]:
    return {
        erasure.NOTIFICATIONS: _("Notifications"),
        erasure.LOGIN_ATTEMPTS: _("Sign-in attempts"),
        erasure.ACCOUNT: _("User account"),
        erasure.PERSON: _("Person record"),
        erasure.CASES: _("Cases about the person"),
        erasure.AUDIT: _("Audit trail entries by the account"),
    }


# --- the start page and retention -------------------------------------------------------------


@bp.route("/privacy")
@login_required
def index() -> str:
    _require_lead()
    query = request.args.get("q", "").strip()[:100]
    people, accounts = search_subjects(db(), query) if query else ([], [])
    active = list(
        db().scalars(
            select(LegalHold).where(LegalHold.lifted_at.is_(None)).order_by(LegalHold.id.desc())
        )
    )
    return render_template(
        "privacy_index.html", query=query, people=people, accounts=accounts, holds=active
    )


@bp.route("/privacy/retention")
@login_required
def retention() -> str | tuple[str, int]:
    _require_lead()
    try:
        plan = plan_disposal(services())
    except RetentionRulesError as exc:
        return render_template("privacy_retention.html", plan=None, rules_error=str(exc)), 500
    records = list(
        db().scalars(select(DisposalRecord).order_by(DisposalRecord.id.desc()).limit(100))
    )
    return render_template(
        "privacy_retention.html",
        plan=plan,
        records=records,
        keep_reasons=keep_texts(),
        rules_error=None,
        disposal_on=services().settings.retention_disposal,
    )


# --- subject access ---------------------------------------------------------------------------


def _subject(kind: str, subject_id: int) -> Subject:
    _require_lead()
    return resolve_subject(db(), kind, subject_id)


@bp.route(f"/privacy/{KIND}/<int:subject_id>")
@login_required
def subject(kind: str, subject_id: int) -> str:
    found = _subject(kind, subject_id)
    session = db()
    export = build_export(services(), session, found, utcnow())
    plan = erasure.erasure_plan(session, found)
    record(session, user(), "privacy.subject_viewed", **found.audit_ids)
    return render_template(
        "privacy_subject.html",
        kind=kind,
        subject_id=subject_id,
        subject=found,
        export=export,
        plan=plan,
        erasure_texts=erasure_texts(),
        relation_texts=relation_texts(),
    )


def _audit_export(found: Subject, export: SubjectExport, fmt: str) -> None:
    record(
        db(),
        user(),
        "privacy.subject_access",
        **found.audit_ids,
        format=fmt,
        cases=[case.id for case in export.cases],
        marked_for_review=export.review_count,
    )


@bp.route(f"/privacy/{KIND}/<int:subject_id>/export")
@login_required
def export_page(kind: str, subject_id: int) -> str:
    found = _subject(kind, subject_id)
    export = build_export(services(), db(), found, utcnow())
    _audit_export(found, export, "html")
    return render_template(
        "privacy_export.html",
        kind=kind,
        subject_id=subject_id,
        export=export,
        review_texts=review_texts(),
        relation_texts=relation_texts(),
        options=option_sources(db()),
        display_value=display_value,
        grounds=GROUNDS,
    )


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _review(review: Review | None) -> dict[str, str] | None:
    if review is None:
        return None
    return {"reason": review.code, "ground": review.ground, "text": review_texts()[review.code]}


def _answer(f: AnswerField) -> dict[str, Any]:
    shown = display_value(f.form, f.name, f.value, option_sources(db()))
    entry = {"field": f.name, "label": f.label, "value": f.value, "shown": shown}
    return {**entry, "review": _review(f.review)}


def export_document(export: SubjectExport) -> dict[str, Any]:
    """The export as JSON: the data as stored, with what a reviewer must look at marked."""
    person, account = export.subject.person, export.subject.account
    return {
        "document": "registerutdrag",
        "legal_basis": "GDPR art. 15",
        "generated_at": _moment(export.generated_at),
        "marked_for_review": export.review_count,
        "review_instructions": _(
            "Everything held is included. Items with a review mark must be tried before the "
            "extract is handed over: remove what concerns others or is secret."
        ),
        "person": None
        if person is None
        else {
            "id": person.id,
            "full_name": person.full_name,
            "category": person.category,
            "party": person.party.name if person.party else None,
            "assignment": person.assignment,
            "created_at": _moment(person.created_at),
        },
        "account": None
        if account is None
        else {
            "id": account.id,
            "username": account.username,
            "display_name": account.display_name,
            "email": account.email,
            "active": account.active,
            "roles": sorted(role.value for role in account.roles),
            "party": account.party.name if account.party else None,
            "organisation": account.organisation.name if account.organisation else None,
            "identity_source": account.identity_source,
            "second_factor": export.second_factor,
            "created_at": _moment(account.created_at),
        },
        "cases": [
            {
                "id": case.id,
                "process_id": case.process_id,
                "process": case.process_name,
                "version": case.version,
                "relations": case.relations,
                "status": case.status,
                "concerns": case.subject_name,
                "reported_by": case.reported_by,
                "on_behalf": case.on_behalf,
                "legal_hold": case.legal_hold,
                "created_at": _moment(case.created_at),
                "completed_at": _moment(case.completed_at),
                "answers": [
                    {
                        "task_id": task.task_id,
                        "task": task.name,
                        "form": task.form_id,
                        "completed_at": _moment(task.completed_at),
                        "completed_by": task.completed_by,
                        "fields": [_answer(f) for f in task.fields],
                    }
                    for task in case.answers
                ],
                "comments": [
                    {
                        "id": c.id,
                        "at": _moment(c.at),
                        "author": c.author,
                        "visibility": c.visibility,
                        "body": c.body,
                        "review": _review(c.review),
                    }
                    for c in case.comments
                ],
                "attachments": [
                    {
                        "id": a.id,
                        "at": _moment(a.at),
                        "uploaded_by": a.uploaded_by,
                        "name": a.name,
                        "media_type": a.media_type,
                        "size": a.size,
                        "description": a.description,
                        "visibility": a.visibility,
                        "review": _review(a.review),
                    }
                    for a in case.attachments
                ],
            }
            for case in export.cases
        ],
        "notifications": [
            {
                "id": n.id,
                "kind": n.kind,
                "topic": n.topic,
                "case_id": n.instance_id,
                "created_at": _moment(n.created_at),
                "read_at": _moment(n.read_at),
                "emailed_at": _moment(n.emailed_at),
            }
            for n in export.notifications
        ],
        "alarms": [
            {
                "alarm_id": a.alarm_id,
                "kind": a.kind,
                "case_id": a.measure_case_id,
                "created_at": _moment(a.created_at),
                "review": _review(Review(REVIEW_SECRET, "OSL 18 kap. 8 §")),
            }
            for a in export.alarms
        ],
        "yearly_offers": [
            {"process_id": s.process_id, "period": s.period, "case_id": s.instance_id}
            for s in export.scheduled_offers
        ],
        "audit": {
            "about_the_account": [
                {
                    "at": _moment(e.at),
                    "action": e.action,
                    "case_id": e.case_id,
                    "by": e.actor,
                    "details": e.details,
                }
                for e in export.audit_of_account
            ],
            "in_cases_about_the_person": [
                {
                    "at": _moment(e.at),
                    "action": e.action,
                    "case_id": e.case_id,
                    "by": e.actor,
                    "review": _review(e.review),
                }
                for e in export.audit_about_them
            ],
        },
    }


@bp.route(f"/privacy/{KIND}/<int:subject_id>/export.json")
@login_required
def export_json(kind: str, subject_id: int) -> Response:
    found = _subject(kind, subject_id)
    export = build_export(services(), db(), found, utcnow())
    _audit_export(found, export, "json")
    body = json.dumps(export_document(export), ensure_ascii=False, indent=2, default=str)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="registerutdrag-{kind}-{subject_id}.json"'
    )
    return response


# --- erasure ------------------------------------------------------------------------------------


@bp.route(f"/privacy/{KIND}/<int:subject_id>/erase", methods=["GET", "POST"])
@login_required
def erase(kind: str, subject_id: int) -> str | tuple[str, int]:
    found = _subject(kind, subject_id)
    session = db()
    page = {
        "kind": kind,
        "subject_id": subject_id,
        "subject": found,
        "erasure_texts": erasure_texts(),
    }
    if request.method == "POST":
        if request.form.get("confirm") != "yes":
            plan = erasure.erasure_plan(session, found)
            error = _("Confirm that the request has been tried before anything is erased.")
            return render_template("privacy_erase.html", plan=plan, error=error, **page), 400
        result = erasure.erase(session, user(), found)
        return render_template(
            "privacy_erase.html", plan=erasure.erasure_plan(session, found), result=result, **page
        )
    return render_template("privacy_erase.html", plan=erasure.erasure_plan(session, found), **page)


# --- legal hold ---------------------------------------------------------------------------------


@bp.route("/cases/<int:instance_id>/legal-hold", methods=["GET", "POST"])
@login_required
def legal_hold(instance_id: int) -> str | BaseResponse | tuple[str, int]:
    me, session = user(), db()
    instance = queries.case_for_viewing(session, me, instance_id)
    if not policy.can_set_legal_hold(me, instance, session):
        raise Forbidden(N_("Only the security lead may set or lift a legal hold."))
    current = holds.active_hold(session, instance.id)
    page = {"instance": instance, "hold": current, "history": holds.holds_of(session, instance.id)}
    if request.method == "POST":
        reason = request.form.get("reason", "")
        try:
            if current is None:
                holds.set_hold(session, me, instance, reason)
                flash(_("The legal hold is set: the case will not be disposed of."), "success")
            else:
                holds.lift_hold(session, me, instance, reason)
                flash(_("The legal hold is lifted."), "success")
        except DomainError as exc:
            session.rollback()
            return render_template(
                "legal_hold.html", error=_(exc.message), reason=reason, **page
            ), exc.status
        return redirect(url_for("cases.detail", instance_id=instance.id) + "#case-privacy")
    return render_template("legal_hold.html", error=None, reason="", **page)


# --- the case page's part -------------------------------------------------------------------------


@dataclass(frozen=True)
class CasePrivacy:
    hold: LegalHold | None
    security: bool  # the viewer is in the security department: sees reasons and decisions
    may_hold: bool
    may_release: bool
    retention: CaseRetention | None
    releases: list[ReleaseDecision]


def case_privacy(instance: ProcessInstance) -> CasePrivacy:
    """What case_privacy.html shows: the hold to everyone who sees the case, the rest to
    the security department (the caller has checked that the case may be seen)."""
    me, session = user(), db()
    security = me.has_role(*policy.CASE_WIDE_ROLES) and me.is_active
    retention_info = None
    if security:
        try:
            retention_info = case_retention(services(), session, instance)
        except RetentionRulesError:
            retention_info = None  # the retention page says what is wrong with the file
    return CasePrivacy(
        hold=holds.active_hold(session, instance.id),
        security=security,
        may_hold=policy.can_set_legal_hold(me, instance, session),
        may_release=policy.can_release_case(me, instance, session),
        retention=retention_info,
        releases=decisions_of(session, instance.id) if security else [],
    )


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"case_privacy": case_privacy, "keep_texts": keep_texts}
