"""The OpenAPI document fuzzed with schemathesis against a running server: no 5xx, every
status code documented, every response matching its schema (bounded: a few examples each)."""

from __future__ import annotations

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
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz")
    (home / "dagster").mkdir()
    env = {
        "BLAST_HOME": str(home),
        "BLAST_SKY": "none",
        "DAGSTER_HOME": str(home / "dagster"),
        "ALLOW_API_POST": "YES",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert main(["add", "2024fuzz", "150.1", "2.2", "--redshift", "0.03"]) == 0
    with running_server(env) as base:
        yield base


def fuzz(strategy, label: str, base_url: str):
    """A hypothesis test calling the server with the operation's generated cases."""

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def check(case):
        response = case.call_and_validate(base_url=base_url, checks=CHECKS)
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
    assert case.call_and_validate(base_url=base_url, checks=CHECKS).status_code == 200
    case = schema["/api/transient/post/"]["POST"].Case(
        body={"name": "2024fuzz2", "ra": 1.0, "dec": 2.0}
    )
    assert case.call_and_validate(base_url=base_url, checks=CHECKS).status_code == 201
    assert case.call_and_validate(base_url=base_url, checks=CHECKS).status_code == 409
