"""The REST API: flask-smorest over the operations, its OpenAPI document and a page to read it.

``/api/openapi.json`` is the document; ``/api/docs`` shows it to a person,
rendered here on the server: the app's Content-Security-Policy allows no
script or style from elsewhere, and the page must work offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template_string
from flask_smorest import Api  # type: ignore[import-untyped]
from flask_wtf.csrf import CSRFProtect

from service.api import alarm_views, case_views
from service.api.operations import SECURITY_SCHEMES
from service.api.problems import ProblemSchema, answer_routing_errors, install_problem_handlers

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1"
EXTENSION = "trygg_api"

DESCRIPTION = """\
Trygg i uppdraget: report incidents, do tasks and follow cases, as on the web pages and by the same rules.

People sign in with the web login (POST /login) and use its session cookie;
every POST with the session also sends the token of GET /api/v1/csrf-token in
the X-CSRFToken header. Systems send a bearer token (Authorization: Bearer);
a system client may only post alarm events.

Errors are RFC 9457 problem details (application/problem+json); invalid data
is a 400 whose errors name each field.
"""


class TryggApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, with problem details instead of its own error bodies."""

    ERROR_SCHEMA = ProblemSchema
    # Every operation lists its errors itself (operations.py): no catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        # The app's handlers stay the HTML pages people see; the API blueprints
        # answer their own errors (problems.py).
        pass


def register_api(app: Flask, csrf: CSRFProtect) -> None:
    """Mount the API, its document and its page.

    The blueprints are exempt from the app-wide CSRF check because token
    calls cannot carry a token of a session they do not have; session calls
    are checked in the views instead (access.person).
    """
    api = TryggApi(
        app,
        spec_kwargs={
            "title": "Trygg i uppdraget",
            "version": API_VERSION,
            "openapi_version": OPENAPI_VERSION,
            "info": {"description": DESCRIPTION},
        },
    )
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    for blueprint in (case_views.bp, alarm_views.bp):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    app.register_blueprint(docs)
    app.extensions[EXTENSION] = api
    answer_routing_errors(app)


def openapi_document() -> dict[str, Any]:
    return cast(dict[str, Any], current_app.extensions[EXTENSION].spec.to_dict())


# -- the document and its page ----------------------------------------------------------

docs = Blueprint("api_docs", __name__, url_prefix="/api")


install_problem_handlers(docs)


@docs.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())


def _schema_name(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items'))}"
    if "allOf" in schema:
        return " ".join(_schema_name(s) for s in schema["allOf"])
    return str(schema.get("type", "any"))


def _content_schema(holder: dict[str, Any]) -> str:
    return ", ".join(
        f"{_schema_name(media.get('schema'))} ({media_type})"
        for media_type, media in holder.get("content", {}).items()
    )


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            yield {
                "method": method.upper(),
                "path": path,
                "tag": (op.get("tags") or [""])[0],
                "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "security": [" + ".join(s) for s in op.get("security", [])] or ["none"],
                "parameters": [
                    f"{p['name']} ({p['in']}): {p.get('description', '')}"
                    for p in shared + op.get("parameters", [])
                ],
                "body": _content_schema(op.get("requestBody", {})),
                "responses": [
                    (status, r.get("description", ""), _content_schema(r))
                    for status, r in sorted(op.get("responses", {}).items())
                ],
            }


def _schemas(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        yield {
            "name": name,
            "properties": [
                (
                    prop,
                    _schema_name(spec) + (", or null" if spec.get("nullable") else ""),
                    prop in required,
                    spec.get("description", ""),
                )
                for prop, spec in schema.get("properties", {}).items()
            ],
        }


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ info.title }} – API</title>
  <link rel="stylesheet" href="{{ url_for('static', filename='site.css') }}">
</head>
<body>
<main class="container" id="main">
  <h1>{{ info.title }} – REST API {{ info.version }}</h1>
  {% for paragraph in info.description.split('\\n\\n') %}<p>{{ paragraph }}</p>{% endfor %}
  <p>The machine-readable document: <a href="{{ url_for('api_docs.openapi_json') }}">openapi.json</a>
    (OpenAPI {{ openapi }}).</p>
  <h2>Operations</h2>
  {% for op in operations %}
  <section class="card" id="{{ op.method }}-{{ op.path }}">
    <h3><code>{{ op.method }} {{ op.path }}</code></h3>
    <p><strong>{{ op.summary }}</strong> <span class="meta">({{ op.tag }};
      authentication: {{ op.security | join(' or ') }})</span></p>
    {% if op.description %}<p>{{ op.description }}</p>{% endif %}
    {% if op.parameters %}<p>Parameters:</p><ul>{% for p in op.parameters %}<li>{{ p }}</li>{% endfor %}</ul>{% endif %}
    {% if op.body %}<p>Body: <a href="#schema-{{ op.body.split(' ')[0] }}">{{ op.body }}</a></p>{% endif %}
    <table class="table">
      <thead><tr><th scope="col">Status</th><th scope="col">Meaning</th><th scope="col">Body</th></tr></thead>
      <tbody>
      {% for status, meaning, body in op.responses %}
      <tr><td>{{ status }}</td><td>{{ meaning }}</td><td>{{ body }}</td></tr>
      {% endfor %}
      </tbody>
    </table>
  </section>
  {% endfor %}
  <h2>Schemas</h2>
  {% for schema in schemas %}
  <section class="card" id="schema-{{ schema.name }}">
    <h3>{{ schema.name }}</h3>
    <table class="table">
      <thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Meaning</th></tr></thead>
      <tbody>
      {% for name, type, required, meaning in schema.properties %}
      <tr><td><code>{{ name }}</code></td><td>{{ type }}</td><td>{{ 'yes' if required else '' }}</td><td>{{ meaning }}</td></tr>
      {% endfor %}
      </tbody>
    </table>
  </section>
  {% endfor %}
</main>
</body>
</html>
"""


@docs.get("/docs")
def docs_page() -> str:
    document = openapi_document()
    return render_template_string(
        PAGE,
        info=document["info"],
        openapi=document["openapi"],
        operations=list(_operations(document)),
        schemas=list(_schemas(document)),
    )
