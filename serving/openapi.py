"""The API's own documents: the OpenAPI document at /docs.json and the docs page at / and /docs.

BentoML generates the document from the request and response models, but three things in it are
not what the service does, and generated clients break on them: optional fields lose their `null`
(OpenAPI 3.0 needs `nullable: true`, and a nullable enum must list null), the error answers are
described as `{"error": str, "detail": str}`, and request bodies are not marked required. Its
`info` is BentoML's (title "Recommender", version None, BentoML's contact and README with external
badges). `openapi_document` corrects those on BentoML's own output, so the models stay the one
source of the schema.

The docs page is ours: Swagger UI from the files BentoML ships (served by the service at
/static_content), no analytics, no third-party resources.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from serving.schemas import REQUEST_ID_PATTERN, ErrorResponse

TITLE = "Tailor Recommender API"
DESCRIPTION = (
    "Personalized recommendations, similar items, cart cross-sell, homepage carousels and popular "
    "items from the promoted Tailor model. Every answer carries the model version and a request "
    "id; visitors without a history or without personalization consent get the non-personalized "
    "answer, marked `personalized: false` with a `fallback_reason`. Request bodies are JSON "
    "(`Content-Type: application/json`) and are validated strictly: no type coercion, no unknown "
    "fields. Errors are `ErrorResponse` objects that name the field."
)
# Error answers each endpoint can give (403 only where the endpoint says so).
ERROR_STATUSES = {
    "400": "Invalid input: the detail names each field and why",
    "404": "An id to look up is unknown (item_id, category, segment)",
    "415": "The body is not JSON (Content-Type must be application/json)",
    "500": "Unexpected error (see the server log)",
    "503": "No model is loaded yet",
}
TEMPLATES = Path(__file__).parent / "templates"
REQUEST_ID_PARAMETER = {
    "name": "X-Request-ID", "in": "header", "required": False,
    "description": "the request id when the body has none (same rule as the body's request_id)",
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}


def service_version() -> str:
    try:
        return version("tailor")
    except PackageNotFoundError:  # a Bento ships the source, not the installed distribution
        return "unknown"


def openapi_document(generated: dict, api_version: str) -> dict:
    """BentoML's generated document with our info, nullable fields, error schema and required
    bodies."""
    spec = json.loads(json.dumps(generated))  # a copy, with the status codes as strings (not ints)
    spec["info"] = {"title": TITLE, "version": api_version, "description": DESCRIPTION}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(name, None)
    error = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))
    schemas["ErrorResponse"] = error
    for schema in schemas.values():
        _mark_nullable(schema)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody")
            if body is None:
                continue  # the probes and /metrics (GET)
            body["required"] = True
            operation.setdefault("parameters", []).append(REQUEST_ID_PARAMETER)
            for media in body.get("content", {}).values():
                _mark_nullable(media.get("schema", {}))
            responses = operation.setdefault("responses", {})
            for media in responses.get("200", {}).get("content", {}).values():
                _mark_nullable(media.get("schema", {}))
            statuses = dict(ERROR_STATUSES)
            if operation.get("x-bentoml-name") == "reload":
                statuses["403"] = "X-Admin-Token missing or wrong, or not from this machine"
            for status, text in statuses.items():
                responses[status] = {"description": text, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    return spec


def _mark_nullable(schema: dict) -> None:
    """A property that may be null says so the OpenAPI 3.0 way: BentoML either drops the `null`
    branch of pydantic's anyOf (keeping only the null default) or keeps a `{"type": "null"}`
    branch that 3.0 does not know."""
    for prop in schema.get("properties", {}).values():
        branches = prop.get("anyOf", [])
        if {"type": "null"} in branches:  # OpenAPI 3.0 has no null type: nullable instead
            rest = [b for b in prop.pop("anyOf") if b != {"type": "null"}]
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
            prop["nullable"] = True
        if "default" in prop and prop["default"] is None:
            prop["nullable"] = True
            if isinstance(prop.get("enum"), list) and None not in prop["enum"]:
                prop["enum"].append(None)  # a nullable enum lists null (OpenAPI 3.0.3)
        _mark_nullable(prop)
        if isinstance(prop.get("items"), dict):
            _mark_nullable(prop["items"])


def docs_page(api_version: str) -> bytes:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    page = environment.get_template("docs.html").render(
        title=TITLE, description=DESCRIPTION, version=api_version)
    return page.encode()
