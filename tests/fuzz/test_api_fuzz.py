"""Property-based fuzzing of the whole HTTP API from its own ``/openapi.json`` (schemathesis), against
a real server process on the real services: whatever is sent, as whoever (admin, manager, clerk,
auditor, kiosk, tablet, dashboard, assistant or nobody), the answer is never a 5xx, a refusal is problem+json, and the
answer is a status the document lists for the operation, conforming to its schema there. Bounded: a
few examples per operation, no shrinking, so the run stays near a minute on two busy cores."""
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings, strategies as st
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from queue_server.app import openapi_document
from tests.support import AUTH, Services, on_a_service_day, server_process

C = "jingansi"
MAX_EXAMPLES = int(os.environ.get("QS_FUZZ_EXAMPLES", "15"))   # per operation; more for a deeper hunt


schema = schemathesis.openapi.from_dict(openapi_document())   # the document /openapi.json serves
KNOWN: dict[str, list[Any]] = {}   # a parameter's or field's name → values that exist (the ``fuzzed`` fixture)


def _seeded(values: Any) -> Any:
    """Each named value as made up or, three times as likely, one that exists: so cases reach past the
    404 and the 422 into the handlers, on real tickets, windows and points."""
    if not isinstance(values, dict) or not values:
        return st.just(values)
    return st.fixed_dictionaries({name: st.sampled_from([*KNOWN.get(name, []) * 3, value]) for name, value in values.items()})


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    return _seeded(path_parameters)


@schema.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
    return _seeded(query)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    return _seeded(body)


@dataclass
class Fuzzed:
    url: str
    roles: dict[str, dict[str, str]]   # role → the headers that authenticate as it


async def _token(http: httpx.AsyncClient, **body: Any) -> dict[str, str]:
    r = await http.post("/api/v1/tokens", json={"center": C, **body})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
async def fuzzed(services: Services) -> AsyncIterator[Fuzzed]:
    s = on_a_service_day(services.settings(await services.fresh_database()))
    with server_process(s) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as http:
            roles = {"admin": AUTH, "nobody": {},
                     "manager": await _token(http, role="manager"),
                     "staff": await _token(http, role="staff", window="w1", staff_id=f"{C}-s01"),
                     "kiosk": await _token(http, role="device", device_kind="kiosk"),
                     "tablet": await _token(http, role="device", device_kind="tablet", window="w1"),
                     "assistant": await _token(http, role="assistant", point="sp1"),
                     "dashboard": await _token(http, role="device", device_kind="dashboard"),
                     "auditor": await _token(http, role="auditor")}
            assert (await http.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"})).status_code == 200
            tickets = [(await http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})).json()["id"]
                       for _ in range(12)]
            link = (await http.post("/api/v1/reviews/links", json={"ticket_id": tickets[0]})).json()["url"]
            devices = (await http.get(f"/api/v1/centers/{C}/devices")).json()
        known = {"center": [C], "window": ["w1", "w2"], "to_window": ["w2"], "point": ["sp1", f"{C}-sp1"],
                 "id": [*tickets, "1"], "ticket_id": tickets, "ticket": tickets, "token": [link.rsplit("/", 1)[1]],
                 "matter": ["hrss-001", "mi-002"], "staff_id": [f"{C}-s01", f"{C}-s02"], "level": [1, 3, 5],
                 "since": ["2026-01-01"], "until": ["2026-12-31"], "kind": ["center", "point"],
                 "device": [d["id"] for d in devices.get("devices", [])][:3] or ["1"]}
        KNOWN.update(known)
        yield Fuzzed(url, roles)


@schema.parametrize()
@schema.given(role=st.sampled_from(["admin", "manager", "staff", "auditor", "kiosk", "tablet", "dashboard", "assistant",
                                     "nobody"]))
@settings(max_examples=MAX_EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_no_answer_is_a_server_error(case: Any, role: str, fuzzed: Fuzzed) -> None:
    # framing is the HTTP client's: a made-up Content-Length is refused by uvicorn's parser (a plain 400)
    # before the app sees the request
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("content-length", "transfer-encoding")}
    if role != "nobody":   # nobody sends whatever Authorization the case made up, if any
        case.headers = {**case.headers, **fuzzed.roles[role]}
    response = case.call(base_url=fuzzed.url, timeout=10)
    where = f"{case.method} {case.formatted_path} as {role}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, where
    if response.status_code >= 400:
        assert response.headers.get("content-type", [""])[0].startswith("application/problem+json"), where
    case.validate_response(response, checks=[response_schema_conformance, status_code_conformance])
