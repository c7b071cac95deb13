"""The HTTP protocol of the Recommender (serving/http.py, serving/openapi.py) over real HTTP:
request ids, content types, strict input, error bodies, the docs page and OpenAPI document, the
admin reload's access rule and the model-version metric (fixture `server` in conftest.py)."""

from __future__ import annotations

import re
import socket

import httpx
import psutil
import pytest
from serving_support import REPO, VERSION_1, promote, start_server, stop_server

pytestmark = pytest.mark.integration

ENDPOINTS = ("recommend", "similar_items", "cross_sell", "homepage", "popular", "reload")


def raw_post(server, endpoint: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """One HTTP/1.1 request written byte for byte (httpx refuses the headers under test)."""
    port = int(server.url.rsplit(":", 1)[1])
    head = b"POST /" + endpoint.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    head += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head + body)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("request_id", ["岚", "a\nb", "a\rb", "tab\there", "sp ace", "x" * 129, ""])
def test_a_bad_request_id_in_the_body_is_a_400_naming_it(server, request_id):
    response = server.post("popular", {"k": 2, "request_id": request_id})
    assert response.status_code == 400, response.text
    body = response.json()
    assert [d["loc"] for d in body["detail"]] == [["request_id"]]
    assert re.fullmatch(r"[0-9a-f-]{36}", body["request_id"])  # a fresh id, not the bad one
    assert response.headers["x-request-id"] == body["request_id"]


@pytest.mark.parametrize("header", ["岚".encode(), b"sp ace", b"x" * 129, b"a\x01b"])
def test_a_bad_request_id_header_is_a_400_never_a_broken_reply(server, header):
    reply = raw_post(server, "popular", b'{"k": 2}',
                     [(b"Content-Type", b"application/json"), (b"X-Request-ID", header)])
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request", reply[:300]
    if header != b"a\x01b":  # a control character: the HTTP parser itself refuses the request
        assert b'"loc": ["header", "X-Request-ID"]' in rest
    assert server.post("popular", {"k": 1}).status_code == 200  # still serving


def test_every_answer_error_or_not_carries_the_request_id(server):
    headers = {"X-Request-ID": "caller-7"}
    ok = server.post("popular", {"k": 1}, headers=headers)
    invalid = server.post("popular", {"k": 0}, headers=headers)
    unknown = server.post("similar_items", {"item_id": "i99999"}, headers=headers)
    not_json = httpx.post(f"{server.url}/popular", content=b"k=1", headers={
        **headers, "Content-Type": "application/x-www-form-urlencoded"})
    for response, status in ((ok, 200), (invalid, 400), (unknown, 404), (not_json, 415)):
        assert response.status_code == status, response.text
        assert response.headers["x-request-id"] == "caller-7"
        assert response.json()["request_id"] == "caller-7"
    by_body = server.post("popular", {"k": 0, "request_id": "from-body"}, headers=headers)
    assert (by_body.status_code, by_body.json()["request_id"]) == (400, "from-body")
    assert by_body.headers["x-request-id"] == "from-body"
    anonymous = server.post("popular", {"k": 0})
    assert anonymous.headers["x-request-id"] == anonymous.json()["request_id"]


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
def test_a_body_that_is_not_declared_json_is_a_415_naming_the_header(server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{server.url}/popular", content=b'{"k": 2}', headers=headers)
    assert response.status_code == 415, response.text
    assert response.json()["detail"][0]["loc"] == ["header", "Content-Type"]
    charset = httpx.post(f"{server.url}/popular", content=b'{"k": 2}',
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"k": "3"}, "k"), ({"k": True}, "k"), ({"k": 2.0}, "k"), ({"k": 2, "category": 5}, "category"),
])
def test_input_is_strict_no_coercion(server, body, field):
    response = server.post("popular", body)
    assert response.status_code == 400, response.text
    assert [d["loc"] for d in response.json()["detail"]] == [[field]]
    assert response.json()["error"].startswith(f"invalid request: {field}: ")


def test_errors_have_the_documented_shape(server):
    for response in (server.post("popular", {"k": -1}), server.post("similar_items", {"k": 1}),
                     server.post("similar_items", {"item_id": "nope"})):
        body = response.json()
        assert set(body) == {"error", "detail", "request_id"}
        assert all(set(d) == {"loc", "msg", "type"} for d in body["detail"]) and body["detail"]


def test_the_docs_page_is_ours_and_loads_nothing_from_elsewhere(server):
    for path in ("", "docs"):
        page = server.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "<title>Tailor Recommender API 0.1.0</title>" in html
        assert "googletagmanager" not in html and "BentoML" not in html
        resources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert resources and not [r for r in resources if "//" in r]  # all on this server
        for resource in resources:
            assert server.get(resource.removeprefix("./")).status_code == 200, resource
        assert 'url: "./docs.json"' in html and "validatorUrl: null" in html


def test_the_openapi_document_describes_the_answers(server):
    spec = server.get("docs.json").json()
    assert spec["info"] == {"title": "Tailor Recommender API", "version": "0.1.0",
                            "description": spec["info"]["description"]}
    assert "http" not in spec["info"]["description"]
    schemas = spec["components"]["schemas"]
    reason = schemas["ItemsResponseIODescriptor"]["properties"]["fallback_reason"]
    assert reason["nullable"] is True and None in reason["enum"]
    assert schemas["ErrorResponse"]["properties"]["detail"]["type"] == "array"
    for endpoint in ENDPOINTS:
        operation = spec["paths"][f"/{endpoint}"]["post"]
        assert operation["requestBody"]["required"] is True, endpoint
        for status in ("400", "415", "500"):
            ref = operation["responses"][status]["content"]["application/json"]["schema"]
            assert ref == {"$ref": "#/components/schemas/ErrorResponse"}, (endpoint, status)
        assert "X-Request-ID" in [p["name"] for p in operation["parameters"]]
    assert "403" in spec["paths"]["/reload"]["post"]["responses"]


def test_metrics_export_the_serving_model_version(server):
    metrics = server.get("metrics").text
    match = re.search(r'^tailor_model_info\{model_tag="tailor:[a-z0-9]+",'
                      rf'model_version="{VERSION_1}"\}} 1\.0$', metrics, re.MULTILINE)
    assert match, [line for line in metrics.splitlines() if "tailor_model" in line]


def non_loopback_address() -> str:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    raise AssertionError("this machine has no non-loopback IPv4 address to call from")


def test_reload_without_a_token_is_only_for_callers_on_this_machine(trained, tmp_path):
    home = tmp_path / "home"
    promote(home / "bentoml", trained.folder, VERSION_1)
    server = start_server(home, {"TAILOR_SERVING_RELOAD_CHECK_INTERVAL_S": "0"}, host="0.0.0.0")
    try:
        port = server.url.rsplit(":", 1)[1]
        remote = httpx.post(f"http://{non_loopback_address()}:{port}/reload", json={},
                            timeout=30)
        assert remote.status_code == 403, remote.text
        assert remote.json()["detail"][0]["loc"] == ["X-Admin-Token"]
        assert httpx.post(f"http://{non_loopback_address()}:{port}/popular", json={"k": 1},
                          timeout=30).status_code == 200  # the rest of the API is open
        local = server.post("reload", {})
        assert local.status_code == 200 and local.json()["reloaded"] is False
    finally:
        stop_server(server)


def test_the_readme_examples_work_against_the_service(server):
    readme = (REPO / "README.md").read_text()
    examples = re.findall(r"^curl -s \$S/(\w+) +-H \"\$J\" -d '(.+?)'", readme, re.MULTILINE)
    assert sorted(endpoint for endpoint, _ in examples) == sorted(ENDPOINTS)
    for endpoint, body in examples:
        response = server.post(endpoint, content=body.encode(),
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 200, (endpoint, response.text)
    assert "/docs" in readme and server.get("docs").status_code == 200
