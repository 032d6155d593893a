"""Process diagrams: the BPMN a case runs on, with where it is now (designers: designer_views.py).

The case page draws the diagram with bpmn-js (service/static/diagram.js) from
the XML served here and the element ids it embeds. Without JavaScript, or
without the vendor files, the page keeps its plain list of steps: the
diagram only adds a picture of the same facts.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, url_for

from service.audit.service import record
from service.cases import queries
from service.cases.models import ProcessInstance
from service.definitions.models import ProcessDefinition
from service.engine import EngineError, Step, StepStates
from service.web.request_context import db, services, user
from service.web.translate import login_required

bp = Blueprint("diagram", __name__)

VIEWER_SCRIPT = "vendor/bpmn-js/bpmn-viewer.production.min.js"


def viewer_installed() -> bool:
    """Whether `make assets` (or the image's node stage) put the viewer in static/."""
    return Path(str(current_app.static_folder), VIEWER_SCRIPT).is_file()


def bpmn_file(bpmn_xml: str, filename: str) -> Response:
    """BPMN text for the viewer's fetch or a download; the designers' pages use it too."""
    response = Response(bpmn_xml, mimetype="application/xml")
    # Data only: never a document that runs or styles anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _bpmn_response(definition: ProcessDefinition) -> Response:
    return bpmn_file(definition.bpmn_xml, f"{definition.process_id}-v{definition.version}.bpmn")


@bp.route("/cases/<int:instance_id>/diagram.bpmn")
@login_required
def case_diagram(instance_id: int) -> Response:
    """The BPMN of the version the case runs on, to those who may see the case."""
    me = user()
    session = db()
    instance = queries.case_for_viewing(session, me, instance_id)
    record(session, me, "case.diagram_viewed", instance_id=instance.id)
    return _bpmn_response(instance.definition)


@dataclass(frozen=True)
class CaseDiagram:
    """What the case page's diagram partial shows."""

    xml_url: str
    viewer: bool
    states: StepStates

    @staticmethod
    def _ids(steps: tuple[Step, ...]) -> str:
        return " ".join(step.bpmn_id for step in steps)

    @property
    def current_ids(self) -> str:
        return self._ids(self.states.current)

    @property
    def finished_ids(self) -> str:
        return self._ids(self.states.finished)

    @staticmethod
    def _names(steps: tuple[Step, ...]) -> list[str]:
        # Gateways are decisions, not steps a person would name; unnamed elements say nothing.
        names = [s.name for s in steps if s.name and s.kind != "gateway"]
        return list(dict.fromkeys(names))

    @property
    def current_names(self) -> list[str]:
        return self._names(self.states.current)

    @property
    def finished_names(self) -> list[str]:
        return self._names(self.states.finished)


def case_diagram_for(instance: ProcessInstance) -> CaseDiagram:
    """The case's steps from its saved engine state (the caller has checked the case may be seen)."""
    states = StepStates(current=(), finished=())
    if instance.state:
        # A state that cannot be loaded: the diagram still shows, unmarked.
        with suppress(EngineError):
            states = services().load_case(instance).step_states()
    return CaseDiagram(
        xml_url=url_for("diagram.case_diagram", instance_id=instance.id),
        viewer=viewer_installed(),
        states=states,
    )


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"case_diagram": case_diagram_for, "diagram_viewer_installed": viewer_installed}
