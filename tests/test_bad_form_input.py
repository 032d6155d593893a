"""Bad form input: a clear error summary, the person's answers kept, nothing stored."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.cases.models import ProcessInstance
from service.formdefs import FormDefinitionError, load_form, validate_submission
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
FORMS = Path(__file__).resolve().parent.parent / "forms"


def _case_count(session: Session) -> int:
    return session.scalar(select(func.count(ProcessInstance.id))) or 0


def _start_url(official: Browser) -> str:
    return str(official.get("/report").location)


def test_missing_answers_show_summary_linking_each_field_and_keep_input(
    browser: Make, session: Session
) -> None:
    anna = browser("anna")
    url = _start_url(anna)
    response = anna.submit(
        url, {"description": "Jag blev hotad i telefon.", "danger_ongoing": "no"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Det finns ett problem" in page
    summary_links = re.findall(r'<a href="#field-([a-z_]+)">', page)
    assert {"kind", "location", "channel"} <= set(summary_links)
    for name in summary_links:
        assert f'id="field-{name}"' in page, f"summary link to #{name} has a target"
        assert f'id="error-{name}"' in page, f"the message also stands beside {name}"
    assert "Jag blev hotad i telefon.</textarea>" in page, "what was typed is kept"
    assert _case_count(session) == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kind": "lizard"}, "kind", "Välj ett av alternativen"),
        ({"occurred_on": "2026-02-31"}, "occurred_on", "giltigt datum"),
        ({"occurred_time": "25:99"}, "occurred_time", "timmar och minuter"),
        ({"location": "x" * 501}, "location", "högst 500 tecken"),
        ({"description": "hot\x00"}, "description", "tecken som inte kan sparas"),
        ({"danger_ongoing": "kanske"}, "danger_ongoing", None),
        (
            {"in_committee_activity": "yes", "organisation_id": "9999"},
            "organisation_id",
            "Välj ett av alternativen",
        ),
        ({"in_committee_activity": "yes"}, "organisation_id", None),
    ],
)
def test_each_kind_of_bad_value_is_named_beside_its_field(
    browser: Make, session: Session, overrides: dict[str, str], field: str, message: str | None
) -> None:
    anna = browser("anna")
    response = anna.submit(_start_url(anna), answers.report(**overrides))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(rf'id="error-{field}">(.*?)</p>', page, re.S)
    assert error, f"no error beside {field}"
    if message:
        assert message in error.group(1)
    assert _case_count(session) == 0


@pytest.mark.parametrize("key", ["typename", "_internal", "extra_field"])
def test_keys_outside_the_form_are_refused(browser: Make, session: Session, key: str) -> None:
    anna = browser("anna")
    response = anna.submit(_start_url(anna), {**answers.report(), key: "x"})
    assert response.status_code == 400
    assert "Ladda om sidan" in response.get_data(as_text=True)
    assert _case_count(session) == 0


def test_hidden_conditional_answer_is_dropped_not_stored(browser: Make, session: Session) -> None:
    anna = browser("anna")
    response = anna.submit(
        _start_url(anna),
        answers.report(perpetrator_known="unknown", perpetrator_description="Lång man"),
    )
    assert response.status_code == 302
    stored = session.scalar(select(HumanTask.submitted_data).where(HumanTask.bpmn_id == "start"))
    assert stored is not None and stored["perpetrator_description"] is None


def test_bad_task_submission_leaves_the_task_open(browser: Make, session: Session) -> None:
    case_id = report_incident(browser("anna"))
    security = browser("sakerhet")
    task_id = security.inbox_tasks()["Bedöm händelsen"]
    before = session.get(ProcessInstance, case_id)
    assert before is not None
    version_before, state_before = before.lock_version, before.state
    response = security.submit(
        f"/tasks/{task_id}", {"severity": "apocalyptic", "measures": ["teleport"]}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Det finns ett problem" in page
    task = session.get(HumanTask, task_id)
    assert task is not None and task.status == "open"
    session.expire_all()
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    assert (instance.lock_version, instance.state) == (version_before, state_before)


def test_missing_csrf_token_is_refused_with_a_clear_page(browser: Make, session: Session) -> None:
    anna = browser("anna")
    response = anna.client.post(_start_url(anna), data=answers.report())
    assert response.status_code == 400
    assert "ladda om sidan" in response.get_data(as_text=True).lower()
    assert _case_count(session) == 0


def test_every_shipped_form_definition_loads() -> None:
    for path in FORMS.glob("*.json"):
        form = load_form(json.loads(path.read_text()), expected_id=path.stem)
        assert form.fields, path.name


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda f: f["schema"]["properties"].update(typename={"type": "string"}), "ui.order"),
        (lambda f: f["schema"].update(additionalProperties=True), "additionalProperties"),
        (lambda f: f["schema"]["properties"]["severity"].update(type="object"), "not supported"),
        (lambda f: f["ui"]["fields"]["severity"]["options"].pop("low"), "without a label"),
        (
            lambda f: f["ui"]["fields"]["severity"].update(show_if={"field": "ghost", "equals": 1}),
            "unknown",
        ),
    ],
)
def test_malformed_form_definitions_are_refused_with_the_place(
    mutate: Callable[[dict], None], complaint: str
) -> None:  # type: ignore[type-arg]
    raw = json.loads((FORMS / "incident_assessment.json").read_text())
    mutate(raw)
    with pytest.raises(FormDefinitionError) as refused:
        load_form(raw)
    assert complaint in str(refused.value)


def test_validator_fills_every_declared_field() -> None:
    form = load_form(json.loads((FORMS / "incident_assessment.json").read_text()))
    result = validate_submission(form, MultiDict({"severity": "low"}))
    assert result.ok
    assert set(result.data) == form.names
    assert result.data["measures"] is None
