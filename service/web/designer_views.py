"""The process designers' pages: processes and versions, diffs, and the draft editor.

Designers change the procedures, never look into cases: these pages read
definition rows and counts of cases per version, nothing of a case's data.
Every write goes through service/definitions/drafts.py, which validates it
and records it in the audit trail with the designer's note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from service.auth import policy
from service.cases.models import CaseStatus, ProcessInstance
from service.definitions import drafts
from service.definitions.activation import activate_version
from service.definitions.catalog import latest_definition, latest_definitions, versions_of
from service.definitions.diff import VersionDiff, bpmn_elements, diff_versions
from service.definitions.instance_migration import running_by_version
from service.definitions.models import ProcessDefinition, ProcessDraft
from service.definitions.validation_rules import DefinitionFindings, Finding
from service.engine.errors import DefinitionError
from service.engine.xmlsafety import MAX_BPMN_BYTES
from service.errors import N_, DomainError, Forbidden, InvalidInput, NotFound
from service.web.diagram_views import bpmn_file, viewer_installed
from service.web.finding_text import localize_finding
from service.web.request_context import db, services, user
from service.web.translate import login_required

bp = Blueprint("designer", __name__)

# A BPMN document may be up to MAX_BPMN_BYTES; the request around it a little more.
BPMN_REQUEST_LIMIT = MAX_BPMN_BYTES + 256 * 1024


def _require_designer() -> None:
    if not policy.can_see_process_models(user()):
        raise Forbidden(N_("This page is for process designers."))


def _versions(process_id: str) -> list[ProcessDefinition]:
    return versions_of(db(), process_id)


def _version(process_id: str, version: int) -> ProcessDefinition:
    found = db().scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
        )
    )
    if found is None:
        raise NotFound(N_("That version of the process does not exist."))
    return found


def _draft_or_404(process_id: str) -> ProcessDraft:
    draft = drafts.get_draft(db(), process_id)
    if draft is None:
        raise NotFound(N_("There is no draft of this process. Open one from the process page."))
    return draft


def _expected_lock(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _finding_dicts(findings: list[Finding]) -> list[dict[str, str | None]]:
    return [{"element": f.element_id, "message": localize_finding(f)} for f in findings]


@dataclass(frozen=True)
class ProcessRow:
    definition: ProcessDefinition
    versions: int
    running: int
    draft: ProcessDraft | None


@bp.route("/processes")
@login_required
def processes() -> str:
    _require_designer()
    session = db()
    counts = dict(
        session.execute(
            select(ProcessDefinition.process_id, func.count()).group_by(
                ProcessDefinition.process_id
            )
        ).all()
    )
    running = dict(
        session.execute(
            select(ProcessInstance.process_id, func.count())
            .where(ProcessInstance.status.in_((CaseStatus.RUNNING.value, CaseStatus.ERROR.value)))
            .group_by(ProcessInstance.process_id)
        ).all()
    )
    open_drafts = {d.process_id: d for d in session.scalars(select(ProcessDraft))}
    rows = [
        ProcessRow(
            d,
            counts.get(d.process_id, 0),
            running.get(d.process_id, 0),
            open_drafts.get(d.process_id),
        )
        for d in latest_definitions(session)
    ]
    return render_template("designer_processes.html", rows=rows)


@bp.route("/processes/<process_id>")
@login_required
def process(process_id: str) -> str:
    _require_designer()
    versions = _versions(process_id)
    if not versions:
        raise NotFound(N_("The process does not exist."))
    open_draft = drafts.get_draft(db(), process_id)
    by_id = {v.id: v.version for v in versions}
    return render_template(
        "designer_process.html",
        process_id=process_id,
        latest=latest_definition(db(), process_id) or versions[0],
        versions=versions,
        running=running_by_version(db(), process_id),
        draft=open_draft,
        draft_base=by_id.get(open_draft.base_definition_id or 0) if open_draft else None,
    )


@bp.route("/processes/<process_id>/versions/<int:version>")
@login_required
def version(process_id: str, version: int) -> str:
    _require_designer()
    definition = _version(process_id, version)
    return render_template(
        "designer_version.html",
        definition=definition,
        forms=_pretty_forms(definition.forms or {}),
        scenarios=_scenario_names(definition.scenarios),
        viewer=viewer_installed(),
        running=running_by_version(db(), process_id).get(definition.version, 0),
    )


@bp.route("/processes/<process_id>/versions/<int:version>/activate", methods=["POST"])
@login_required
def activate(process_id: str, version: int) -> Response:
    """Make an older version the one new cases start on again (with a note)."""
    _require_designer()
    definition = _version(process_id, version)
    try:
        activate_version(db(), user(), definition, request.form.get("note"))
    except DomainError as exc:
        db().rollback()
        flash(_(exc.message, **exc.params), "error")
        return redirect(
            url_for("designer.process", process_id=process_id, _anchor="versions-heading")
        )
    db().commit()
    flash(
        _(
            "Version %(n)s is active again: new cases start on it; running cases stay on their version.",
            n=definition.version,
        ),
        "success",
    )
    return redirect(url_for("designer.process", process_id=process_id))


@bp.route("/processes/<process_id>/versions/<int:version>/diagram.bpmn")
@login_required
def version_diagram(process_id: str, version: int) -> Response:
    _require_designer()
    definition = _version(process_id, version)
    return bpmn_file(definition.bpmn_xml, f"{process_id}-v{definition.version}.bpmn")


@bp.route("/processes/<process_id>/draft/diagram.bpmn")
@login_required
def draft_diagram(process_id: str) -> Response:
    _require_designer()
    draft = _draft_or_404(process_id)
    return bpmn_file(draft.bpmn_xml, f"{process_id}-utkast.bpmn")


def _pretty_forms(forms: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (form_id, json.dumps(forms[form_id], indent=2, ensure_ascii=False))
        for form_id in sorted(forms)
    ]


def _scenario_names(scenarios: Any) -> list[str]:
    paths = scenarios.get("paths", []) if isinstance(scenarios, dict) else scenarios or []
    return [str(p.get("name", "")) for p in paths if isinstance(p, dict)]


def _scenarios_text(scenarios: Any) -> str:
    return json.dumps(scenarios if scenarios is not None else [], indent=2, ensure_ascii=False)


# ---------------------------------------------------------------- diff


def _draft_as_definition(draft: ProcessDraft) -> ProcessDefinition:
    """A transient, never-stored version row holding the draft, so the diff reads it like any version."""
    return ProcessDefinition(
        process_id=draft.process_id,
        version=0,
        name=str((draft.meta or {}).get("title", draft.process_id)),
        bpmn_xml=draft.bpmn_xml,
        forms=draft.forms,
        decisions=draft.decisions,
        meta=draft.meta,
    )


@dataclass(frozen=True)
class NamedDiff:
    diff: VersionDiff
    old_label: str
    new_label: str
    old_names: dict[str, str]
    new_names: dict[str, str]


def _names(bpmn_xml: str) -> dict[str, str]:
    try:
        elements = bpmn_elements(bpmn_xml)
    except DefinitionError:
        return {}
    return {element_id: str(e.get("name") or "") for element_id, e in elements.items()}


def _side(
    process_id: str, value: str | None, default: ProcessDefinition
) -> tuple[ProcessDefinition, str]:
    if value in (None, ""):
        return default, _("version %(n)s", n=default.version)
    if value == "draft":
        return _draft_as_definition(_draft_or_404(process_id)), _("the draft")
    try:
        number = int(str(value))
    except ValueError as exc:
        raise InvalidInput(N_("Choose two versions to compare.")) from exc
    return _version(process_id, number), _("version %(n)s", n=number)


@bp.route("/processes/<process_id>/diff")
@login_required
def diff(process_id: str) -> str:
    _require_designer()
    versions = _versions(process_id)
    if not versions:
        raise NotFound(N_("The process does not exist."))
    default_old = versions[1] if len(versions) > 1 else versions[0]
    old, old_label = _side(process_id, request.args.get("from"), default_old)
    new, new_label = _side(process_id, request.args.get("to"), versions[0])
    try:
        result = diff_versions(old, new)
    except DefinitionError as exc:
        raise InvalidInput(
            N_(
                "The draft's diagram cannot be read, so it cannot be compared. Fix or upload it first."
            )
        ) from exc
    return render_template(
        "designer_diff.html",
        process_id=process_id,
        latest=versions[0],
        versions=versions,
        draft=drafts.get_draft(db(), process_id),
        chosen_from=request.args.get("from") or str(default_old.version),
        chosen_to=request.args.get("to") or str(versions[0].version),
        named=NamedDiff(result, old_label, new_label, _names(old.bpmn_xml), _names(new.bpmn_xml)),
    )


# ---------------------------------------------------------------- the draft


def _render_draft(
    draft: ProcessDraft,
    *,
    status: int = 200,
    form_texts: dict[str, str] | None = None,
    form_findings: dict[str, list[Finding]] | None = None,
    scenarios_text: str | None = None,
    scenario_findings: list[Finding] | None = None,
    new_form: dict[str, str] | None = None,
    results: Any = None,
    deploy_error: str | None = None,
    note: str = "",
) -> tuple[str, int]:
    session = db()
    findings = drafts.validate_draft(session, draft)
    base = (
        session.get(ProcessDefinition, draft.base_definition_id)
        if draft.base_definition_id
        else None
    )
    named: NamedDiff | None = None
    if base is not None:
        try:
            changes = diff_versions(base, _draft_as_definition(draft))
            named = NamedDiff(
                changes,
                _("version %(n)s", n=base.version),
                _("the draft"),
                _names(base.bpmn_xml),
                _names(draft.bpmn_xml),
            )
        except DefinitionError:
            named = None
    texts = dict(_pretty_forms(draft.forms or {}))
    texts.update(form_texts or {})
    return (
        render_template(
            "designer_draft.html",
            draft=draft,
            base=base,
            findings=findings,
            named=named,
            forms=sorted(texts.items()),
            form_findings=form_findings or {},
            scenarios_text=scenarios_text
            if scenarios_text is not None
            else _scenarios_text(draft.scenarios),
            scenario_findings=scenario_findings or [],
            new_form=new_form or {},
            results=results,
            deploy_error=deploy_error,
            note=note,
            viewer=viewer_installed(),
            title=str((draft.meta or {}).get("title", draft.process_id)),
        ),
        status,
    )


@bp.route("/processes/<process_id>/draft", methods=["GET"])
@login_required
def draft(process_id: str) -> tuple[str, int] | Response:
    _require_designer()
    found = drafts.get_draft(db(), process_id)
    if found is None:
        flash(_("There is no draft of this process. Open one here."), "info")
        return redirect(url_for("designer.process", process_id=process_id))
    return _render_draft(found)


@bp.route("/processes/<process_id>/draft", methods=["POST"])
@login_required
def open_draft(process_id: str) -> Response:
    _require_designer()
    from_version = _expected_lock(request.form.get("from_version"))
    if not _versions(process_id):
        raise NotFound(N_("The process does not exist."))
    drafts.open_draft(db(), user(), process_id, from_version=from_version)
    db().commit()
    return redirect(url_for("designer.draft", process_id=process_id))


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _json_error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


@bp.route("/processes/<process_id>/draft/bpmn", methods=["POST"])
@login_required
def save_bpmn(process_id: str) -> Any:
    """The modeler's save (JSON) and the upload form (multipart) both land here."""
    _require_designer()
    request.max_content_length = BPMN_REQUEST_LIMIT
    as_json = _wants_json()
    try:
        draft = _draft_or_404(process_id)
        if request.is_json:
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not isinstance(body.get("xml"), str):
                raise InvalidInput(
                    N_("The modeler sent no diagram. Reload the page and try again.")
                )
            xml, lock = body["xml"], _expected_lock(body.get("lock_version"))
        else:
            upload = request.files.get("bpmn_file")
            if upload is None or not upload.filename:
                raise InvalidInput(N_("Choose a .bpmn file to upload."))
            raw = upload.read(MAX_BPMN_BYTES + 1)
            try:
                xml = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    N_(
                        "The file is not a BPMN text file (UTF-8 XML). Export it from the modeler as .bpmn."
                    )
                ) from exc
            lock = _expected_lock(request.form.get("lock_version"))
        findings = drafts.save_bpmn(db(), user(), draft, xml, lock)
        db().commit()
    except RequestEntityTooLarge:
        message = _(
            "The diagram is larger than %(kib)s KiB. Split the process or remove embedded content.",
            kib=MAX_BPMN_BYTES // 1024,
        )
        if as_json:
            return _json_error(message, 413)
        raise
    except DomainError as exc:
        db().rollback()
        if as_json:
            return _json_error(_(exc.message, **exc.params), exc.status)
        raise
    except DefinitionError as exc:
        db().rollback()
        message = _("The diagram was not saved: %(problem)s", problem=localize_finding(exc))
        if as_json:
            return _json_error(message, 400)
        flash(message, "error")
        return redirect(url_for("designer.draft", process_id=process_id))
    if as_json:
        return jsonify(
            {
                "saved": True,
                "lock_version": draft.lock_version,
                "findings": _finding_dicts(findings),
            }
        )
    flash(
        _("The diagram is saved.")
        if not findings
        else _("The diagram is saved, with problems to fix before it can be deployed."),
        "success" if not findings else "info",
    )
    return redirect(url_for("designer.draft", process_id=process_id))


@bp.route("/processes/<process_id>/draft/forms/<form_id>/check", methods=["POST"])
@login_required
def check_form(process_id: str, form_id: str) -> Response:
    """The JSON editor's immediate validation: nothing is stored."""
    _require_designer()
    _draft_or_404(process_id)
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return jsonify({"findings": [{"element": form_id, "message": _("Nothing to check.")}]})
    return jsonify({"findings": _finding_dicts(drafts.check_form_text(form_id, text))})


def _save_form(process_id: str, form_id: str, new: bool) -> Any:
    draft = _draft_or_404(process_id)
    text = request.form.get("form_json", "")
    findings = drafts.save_form(
        db(), user(), draft, form_id, text, _expected_lock(request.form.get("lock_version"))
    )
    if findings:
        db().rollback()
        draft = _draft_or_404(process_id)
        if new:
            return _render_draft(
                draft,
                status=400,
                new_form={"form_id": form_id, "text": text},
                form_findings={form_id: findings},
            )
        return _render_draft(
            draft, status=400, form_texts={form_id: text}, form_findings={form_id: findings}
        )
    db().commit()
    flash(_("The form %(form)s is saved.", form=form_id), "success")
    return redirect(url_for("designer.draft", process_id=process_id, _anchor=f"form-{form_id}"))


@bp.route("/processes/<process_id>/draft/forms/<form_id>", methods=["POST"])
@login_required
def save_form(process_id: str, form_id: str) -> Any:
    _require_designer()
    return _save_form(process_id, form_id, new=False)


@bp.route("/processes/<process_id>/draft/forms", methods=["POST"])
@login_required
def add_form(process_id: str) -> Any:
    _require_designer()
    form_id = request.form.get("form_id", "").strip()
    draft = _draft_or_404(process_id)
    if form_id in (draft.forms or {}):
        return _render_draft(
            draft,
            status=400,
            new_form={"form_id": form_id, "text": request.form.get("form_json", "")},
            form_findings={
                form_id: [
                    Finding(
                        form_id,
                        _(
                            "The draft already has a form with this id; edit it above or choose another id."
                        ),
                    )
                ]
            },
        )
    return _save_form(process_id, form_id, new=True)


@bp.route("/processes/<process_id>/draft/scenarios", methods=["POST"])
@login_required
def save_scenarios(process_id: str) -> Any:
    _require_designer()
    draft = _draft_or_404(process_id)
    text = request.form.get("scenarios_json", "")
    findings = drafts.save_scenarios(
        db(), user(), draft, text, _expected_lock(request.form.get("lock_version"))
    )
    if findings:
        db().rollback()
        return _render_draft(
            _draft_or_404(process_id), status=400, scenarios_text=text, scenario_findings=findings
        )
    db().commit()
    flash(_("The scenario tests are saved."), "success")
    return redirect(url_for("designer.draft", process_id=process_id, _anchor="scenarios"))


@bp.route("/processes/<process_id>/draft/test", methods=["POST"])
@login_required
def test_draft(process_id: str) -> Any:
    _require_designer()
    draft = _draft_or_404(process_id)
    results = drafts.run_draft_scenarios(services(), db(), user(), draft)
    db().commit()
    return _render_draft(_draft_or_404(process_id), results=results)


@bp.route("/processes/<process_id>/draft/deploy", methods=["POST"])
@login_required
def deploy(process_id: str) -> Any:
    _require_designer()
    draft = _draft_or_404(process_id)
    raw_note = request.form.get("note", "")
    try:
        definition = drafts.deploy_draft(db(), user(), draft, raw_note)
    except DefinitionFindings:
        db().rollback()
        return _render_draft(
            _draft_or_404(process_id),
            status=400,
            deploy_error=_("The draft has problems; fix them before it is deployed."),
            note=raw_note,
        )
    except (DomainError, DefinitionError) as exc:
        db().rollback()
        message = (
            _(exc.message, **exc.params) if isinstance(exc, DomainError) else localize_finding(exc)
        )
        return _render_draft(
            _draft_or_404(process_id), status=400, deploy_error=message, note=raw_note
        )
    db().commit()
    flash(
        _(
            "Version %(n)s is deployed: new cases start on it; running cases stay on their version.",
            n=definition.version,
        ),
        "success",
    )
    return redirect(url_for("designer.process", process_id=process_id))


@bp.route("/processes/<process_id>/draft/discard", methods=["POST"])
@login_required
def discard(process_id: str) -> Response:
    _require_designer()
    draft = _draft_or_404(process_id)
    drafts.discard_draft(db(), user(), draft)
    db().commit()
    flash(_("The draft is discarded."), "success")
    return redirect(url_for("designer.process", process_id=process_id))
