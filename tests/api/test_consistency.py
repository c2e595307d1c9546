"""One shape for one thing across the API: a window's queues are a list wherever a window appears;
a body in a media type other than JSON is a 415 problem, not "malformed JSON"; every schema in the
OpenAPI document has a domain name, none named after its module path."""
from __future__ import annotations

import pytest

from queue_server.config import Settings
from tests.support import AUTH, running_app

C = "jingansi"


async def test_a_windows_queues_are_a_list_everywhere(settings: Settings) -> None:
    async with running_app(settings) as (_, client):
        detail = {w["code"]: w["queues"] for w in (await client.get(f"/api/v1/centers/{C}")).json()["windows"]}
        opened = (await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH,
                                    json={"staff_id": f"{C}-s01"})).json()
        assert opened["queues"] == detail["w1"]
        await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
        called = (await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)).json()
        assert called["window"]["queues"] == detail["w1"]
        live = (await client.get(f"/api/v1/centers/{C}/queue")).json()
        assert {w["id"]: w["queues"] for w in live["windows"]} == detail
        assert all(isinstance(q, list) and q for q in detail.values())


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", '{"matter": "hrss-001"}'),
    ("application/x-www-form-urlencoded", "matter=hrss-001"),
])
async def test_a_body_that_is_not_json_is_415(settings: Settings, content_type: str, body: str) -> None:
    async with running_app(settings) as (_, client):
        r = await client.post(f"/api/v1/centers/{C}/tickets", headers={**AUTH, "content-type": content_type},
                              content=body.encode())
        assert r.status_code == 415, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "content-type"
        waiting = (await client.get(f"/api/v1/centers/{C}/queue")).json()["waiting"]
        assert sum(waiting.values()) == 0                       # nothing half-written
        ok = await client.post(f"/api/v1/centers/{C}/tickets", headers={**AUTH, "content-type": "application/json; charset=utf-8"},
                               content=b'{"matter": "hrss-001"}')
        assert ok.status_code == 201, ok.text
        bad = await client.post(f"/api/v1/centers/{C}/tickets", headers={**AUTH, "content-type": "application/json"},
                                content=b'{"matter": ')
        assert bad.status_code == 400 and bad.json()["title"] == "Malformed JSON"


async def test_openapi_schemas_have_domain_names(settings: Settings) -> None:
    async with running_app(settings) as (_, client):
        schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert not [name for name in schemas if "__" in name]
    assert {"DashboardFigures", "SatisfactionFigures"} <= set(schemas)
