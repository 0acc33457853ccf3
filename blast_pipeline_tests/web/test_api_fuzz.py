"""The OpenAPI document fuzzed with schemathesis against a running server: no 5xx, every
status code documented, every response matching its schema (bounded: a few examples each)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from blast_pipeline.cli import main  # noqa: E402
from blast_pipeline_tests.web.server import running_server  # noqa: E402

CALLS: list[tuple[str, int]] = []
TOKEN = "fuzz-token-7"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def base_url(request, tmp_path_factory):
    """A real server over a database holding one transient; writing needs a bearer token."""
    from blast_pipeline_tests.web.conftest import drop_database, fresh_database_url

    home = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    (home / "dagster").mkdir()
    template = request.getfixturevalue("postgres_template") if request.param == "postgres" else None
    url, pg_name = fresh_database_url(request.param, home, template)
    env = {
        "BLAST_HOME": str(home),
        "BLAST_DATABASE_URL": url,
        "BLAST_SKY": "none",
        "DAGSTER_HOME": str(home / "dagster"),
        "BLAST_API_TOKEN": TOKEN,
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert main(["add", "2024fuzz", "150.1", "2.2", "--redshift", "0.03"]) == 0
    try:
        with running_server(env) as base:
            yield base
    finally:
        drop_database(pg_name)


def fuzz(strategy, label: str, base_url: str):
    """A hypothesis test calling the server with the operation's generated cases."""

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def check(case):
        response = case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS)
        CALLS.append((label, response.status_code))

    return check


def test_openapi_document_holds_under_fuzzing(base_url):
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        strategy = operation.as_strategy()
        try:
            fuzz(strategy, operation.label, base_url)()
        except Exception as exc:  # collect all operations' failures, report them together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len({label for label, _ in CALLS}) == len(list(schema.get_all_operations()))


def test_stored_transient_responses_match_the_schema(base_url):
    """The generated names rarely exist: the 200 answers of a stored transient, checked too."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    name = {"name": "2024fuzz"}
    for path in ("/api/transient/get/{name}", "/api/transient/export/{name}/"):
        case = schema[path]["GET"].Case(path_parameters=name, query={})
        assert case.call_and_validate(base_url=base_url, checks=CHECKS).status_code == 200
    case = schema["/api/transient/export/{name}/all/"]["GET"].Case(path_parameters=name)
    assert case.call_and_validate(base_url=base_url, checks=CHECKS).status_code == 200
    case = schema["/api/transient/update/{name}/"]["POST"].Case(
        path_parameters=name, body={"update_comment": "z", "redshift": 0.031}
    )
    assert call(case, base_url).status_code == 200
    case = schema["/api/transient/post/"]["POST"].Case(
        body={"name": "2024fuzz2", "ra": 1.0, "dec": 2.0}
    )
    assert call(case, base_url).status_code == 201
    assert call(case, base_url).status_code == 409


def call(case, base_url: str):
    return case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS)


def _get(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    ("path", "method", "headers", "status", "words"),
    [
        ("/api/transient/get/SN2024abc", "GET", None, 400, "SN/AT prefix"),
        ("/api/transient/get/a..b", "GET", None, 400, "name"),
        ("/api/transient/get/2099zzz", "GET", None, 404, "not in database"),
        ("/api/transient/get/..%2F..%2Fetc%2Fpasswd", "GET", None, 404, ""),
        ("/api/transient/export/..%2F..%2Fetc/all/", "GET", None, 404, ""),
        ("/api/transient/export/2024fuzz%2F..%2F..%2Fx/", "GET", None, 404, ""),
        ("/api/transient/get/2024fuzz?wait=100000", "GET", None, 422, "wait"),
        ("/api/transient/?page_size=1000000", "GET", None, 422, "page_size"),
        ("/api/transient/?page=1000000", "GET", None, 404, "invalid page"),
        ("/api/host/?page=99999999999999999999", "GET", None, 422, "page"),
        # a NUL character: PostgreSQL cannot take it (found by the fuzzing on PostgreSQL)
        ("/api/sedfittingresult/?transient=a%00b", "GET", None, 422, "pattern"),
        ("/api/transient/post/name=2024tok&ra=1&dec=1", "POST", None, 401, "Bearer"),
        (
            "/api/transient/post/name=2024tok&ra=1&dec=1",
            "POST",
            {"Authorization": "Bearer wrong"},
            403,
            "not valid",
        ),
        (
            "/api/transient/post/name=2024tok&ra=1&dec=1",
            "POST",
            {"Authorization": "Basic x"},
            401,
            "",
        ),
    ],
)
def test_bad_requests_get_a_clear_4xx(base_url, path, method, headers, status, words):
    """Bad names, path traversal, huge pages and bad tokens against the real server, on both
    databases: the documented 4xx with a message (never a 5xx, never a file outside the store)."""
    code, body = _get(base_url + path, method, headers)
    assert code == status, body
    text = json.dumps(body)
    assert words in text and TOKEN not in text
    assert "message" in body or "detail" in body
