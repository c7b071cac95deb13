"""The HTTP protocol around the Recommender's endpoints, as one ASGI middleware (`ApiGuard`).

What BentoML leaves open, decided here once for every endpoint:
- `X-Request-ID` (request header) must match `schemas.REQUEST_ID_PATTERN`, else 400 naming the
  header: it is echoed in a response header, and a control or non-Latin-1 character there broke
  the answer (500) or the connection (no reply at all).
- POST bodies must be `Content-Type: application/json` (else 415): BentoML would read form data,
  multipart or text as JSON.
- Every answer carries `X-Request-ID`; every error answer is an `ErrorResponse` (error, detail
  naming the field, request_id): BentoML's own 400/5xx bodies are rewritten to it, with the body's
  `request_id` when it is valid, else the header's, else a new UUID4.
- GET / and /docs serve our docs page, GET /docs.json the corrected OpenAPI document
  (serving/openapi.py).
Successful answers pass through untouched but for the header check (a few microseconds).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

from serving.schemas import REQUEST_ID_PATTERN, error_body

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(REQUEST_ID_PATTERN.encode())
_JSON = b"application/json"


def valid_request_id(value: object) -> bool:
    return isinstance(value, str) and _VALID_REQUEST_ID.match(value.encode()) is not None


class ApiGuard:
    def __init__(self, app, api_paths: frozenset[str], docs_page: Callable[[], bytes],
                 openapi: Callable[[], dict]) -> None:
        self.app = app
        self.api_paths = api_paths
        self._docs_page = docs_page
        self._openapi = openapi
        self._documents: dict[str, bytes] = {}  # built on first request, then kept

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if path not in self.api_paths:
            if method in ("GET", "HEAD") and path in ("/", "/docs", "/docs.json"):
                return await self._document(path, send)
            return await self.app(scope, receive, send)

        header_id, content_type = None, None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                header_id = value
            elif name == b"content-type":
                content_type = value
        if header_id is not None and _VALID_REQUEST_ID.match(header_id) is None:
            return await _error(send, 400, str(uuid.uuid4()), "X-Request-ID: must be 1-128 of "
                                "A-Z a-z 0-9 . _ : / + = @ -", ["header", "X-Request-ID"],
                                "invalid_header")
        request_id = header_id.decode() if header_id is not None else None
        if content_type is None or content_type.split(b";")[0].strip().lower() != _JSON:
            return await _error(send, 415, request_id or str(uuid.uuid4()),
                                "Content-Type: request bodies must be application/json",
                                ["header", "Content-Type"], "unsupported_media_type")

        body: list[bytes] = []

        async def receive_body():
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        held: dict = {}

        async def send_guarded(message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] < 400:
                    if not any(name == REQUEST_ID_HEADER for name, _ in message["headers"]):
                        message["headers"] = [*message["headers"], (
                            REQUEST_ID_HEADER, (request_id or str(uuid.uuid4())).encode())]
                    return await send(message)
                held["start"], held["body"] = message, []  # rewritten once the body is in
                return None
            if "start" not in held:
                return await send(message)
            held["body"].append(message.get("body", b""))
            if not message.get("more_body", False):
                status = held["start"]["status"]
                answer = _as_error_response(b"".join(held["body"]), status,
                                            _body_request_id(body) or request_id)
                await _send_json(send, status, answer)
            return None

        await self.app(scope, receive_body, send_guarded)

    async def _document(self, path: str, send) -> None:
        if path not in self._documents:
            if path == "/docs.json":
                self._documents[path] = json.dumps(self._openapi()).encode()
            else:
                self._documents[path] = self._docs_page()
        content_type = _JSON if path.endswith(".json") else b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type),
                                (b"content-length", str(len(self._documents[path])).encode())]})
        await send({"type": "http.response.body", "body": self._documents[path]})


def _body_request_id(chunks: list[bytes]) -> str | None:
    """The request body's `request_id` if the body is a JSON object and the id is valid."""
    try:
        payload = json.loads(b"".join(chunks) or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    value = payload.get("request_id") if isinstance(payload, dict) else None
    return value if valid_request_id(value) else None


def _as_error_response(raw: bytes, status: int, request_id: str | None) -> dict:
    """Any error body (ours, BentoML's ValidationError 400, its 4xx/5xx) as an ErrorResponse."""
    try:
        payload = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        payload = {"error": raw.decode("utf-8", "replace")[:200]}
    if isinstance(payload, list):  # BentoML answers some 4xx with a one-element list
        payload = payload[0] if payload and isinstance(payload[0], dict) else {}
    if not isinstance(payload, dict):
        payload = {}
    details = [{"loc": [p for p in d.get("loc", []) if isinstance(p, str | int)],
                "msg": str(d.get("msg", "")), "type": str(d.get("type", "error"))}
               for d in payload.get("detail", []) if isinstance(d, dict)]
    if details and status == 400:
        error = "invalid request: " + "; ".join(
            f"{'.'.join(map(str, d['loc'])) or 'body'}: {d['msg']}" for d in details)
    else:
        error = str(payload.get("error") or f"HTTP {status}")
    return {"error": error, "detail": details,
            "request_id": payload.get("request_id") if valid_request_id(
                payload.get("request_id")) else (request_id or str(uuid.uuid4()))}


async def _error(send, status: int, request_id: str, message: str, loc: list[str],
                 kind: str) -> None:
    await _send_json(send, status, error_body(message, loc, kind, request_id))


async def _send_json(send, status: int, answer: dict) -> None:
    body = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", _JSON), (b"content-length", str(len(body)).encode()),
                            (REQUEST_ID_HEADER, answer["request_id"].encode())]})
    await send({"type": "http.response.body", "body": body})
