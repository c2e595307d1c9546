"""Who may act on the queue (domain/access.py), table-driven: the pure rule for every role, action
and target, then the same table through HTTP on real Redis and PostgreSQL — every answer the table
does not allow is a 403 problem+json and changes nothing."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from queue_server.config import Settings
from queue_server.domain.access import TICKET_ACTIONS, WINDOW_ACTIONS, Actor, refusal
from queue_server.record.people import create_token
from tests.support import AUTH, running_app

C, OTHER = "jingansi", "caojiadu"

ACTORS = {
    "admin": Actor("admin", None, None),
    "manager": Actor("manager", C, None),
    "other manager": Actor("manager", OTHER, None),
    "clerk w1": Actor("staff", C, "w1"),
    "clerk w2": Actor("staff", C, "w2"),
    "clerk without window": Actor("staff", C, None),
    "clerk elsewhere": Actor("staff", OTHER, "w1"),
    "auditor": Actor("auditor", None, None),
    "center auditor": Actor("auditor", C, None),
    "kiosk": Actor("device", C, None),
    "assistant": Actor("assistant", C, None),
}
# who may act at window w1 of C (window actions) and on C's tickets at all (the engine then checks a clerk's line)
MAY_AT_W1 = {"admin", "manager", "clerk w1"}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", sorted(WINDOW_ACTIONS | TICKET_ACTIONS))
def test_the_rule_for_every_role_and_action(actor: str, action: str) -> None:
    reason = refusal(ACTORS[actor], action, C, "w1" if action in WINDOW_ACTIONS else None)
    if action in WINDOW_ACTIONS:
        assert (reason is None) == (actor in MAY_AT_W1), reason
    else:
        assert (reason is None) == (actor in MAY_AT_W1 | {"clerk w2"}), reason


def test_an_unknown_action_is_a_bug_not_a_refusal() -> None:
    with pytest.raises(ValueError):
        refusal(ACTORS["admin"], "delete", C)


class Hall:
    """The center's state for one case, set up with the admin token: each case gets its own tickets."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.current: dict[str, str] = {}   # the ticket each window was last given

    async def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] = AUTH) -> httpx.Response:
        return await self.client.post(path, json=body or {}, headers=headers)

    async def window(self, window: str, state: str = "open") -> None:
        """The window empty, in ``state``."""
        current = self.current.pop(window, None)
        if current:   # whatever the case left it in, it leaves the window
            for action in ("no-show", "finish"):
                await self.post(f"/api/v1/tickets/{current}/{action}")
        verb = {"open": "open", "paused": "pause", "closed": "close"}[state]
        r = await self.post(f"/api/v1/centers/{C}/windows/{window}/{verb}", {"staff_id": f"{C}-s0{window[-1]}",
                                                                           "reason": "setting up"})
        assert r.status_code == 200, r.text

    async def waiting(self) -> str:
        r = await self.post(f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def at(self, window: str, serving: bool = False) -> str:
        await self.window(window)
        tid = await self.waiting()
        r = await self.post(f"/api/v1/centers/{C}/windows/{window}/call-next", {"ticket": tid, "reason": "test"})
        assert r.status_code == 200, r.text
        self.current[window] = tid
        if serving:
            assert (await self.post(f"/api/v1/tickets/{tid}/start")).status_code == 200
        return tid

    async def target(self, kind: str) -> str:
        if kind == "waiting in w1's queue":
            return await self.waiting()
        if kind == "waiting in w3's own line":
            tid = await self.waiting()
            assert (await self.post(f"/api/v1/tickets/{tid}/transfer", {"to_window": "w3"})).status_code == 200
            return tid
        if kind == "paused at w2":
            tid = await self.at("w2")
            assert (await self.post(f"/api/v1/tickets/{tid}/pause")).status_code == 200
            return tid
        window, serving = kind.split()[-1], kind.startswith("serving")
        return await self.at(window, serving)


# (action, target, actors allowed); every other actor of HTTP_ACTORS gets 403
TICKET_CASES = [
    ("start", "called at w1", {"admin", "manager", "clerk w1"}),
    ("recall", "called at w1", {"admin", "manager", "clerk w1"}),
    ("no-show", "called at w1", {"admin", "manager", "clerk w1"}),
    ("finish", "serving at w1", {"admin", "manager", "clerk w1"}),
    ("pause", "serving at w1", {"admin", "manager", "clerk w1"}),
    ("finish", "serving at w2", {"admin", "manager", "clerk w2"}),
    ("transfer", "serving at w2", {"admin", "manager", "clerk w2"}),
    ("cancel", "waiting in w1's queue", {"admin", "manager", "clerk w1", "clerk w2"}),
    ("transfer", "waiting in w1's queue", {"admin", "manager", "clerk w1", "clerk w2"}),
    ("cancel", "waiting in w3's own line", {"admin", "manager"}),
    ("transfer", "waiting in w3's own line", {"admin", "manager"}),
    ("resume", "paused at w2", {"admin", "manager", "clerk w2"}),
    ("cancel", "paused at w2", {"admin", "manager", "clerk w2"}),
]
WINDOW_CASES = [("open", "closed"), ("pause", "open"), ("close", "open"), ("call-next", "open")]
HTTP_ACTORS = ["admin", "manager", "other manager", "clerk w1", "clerk w2", "clerk without window", "auditor", "kiosk"]


async def _tokens(app: Any) -> dict[str, dict[str, str]]:
    pool = app.state.pool
    made = {
        "manager": await create_token(pool, "manager", C),
        "other manager": await create_token(pool, "manager", OTHER),
        "clerk w1": await create_token(pool, "staff", C, "w1", f"{C}-s01"),
        "clerk w2": await create_token(pool, "staff", C, "w2", f"{C}-s02"),
        "clerk without window": await create_token(pool, "staff", C, None, f"{C}-s04"),
        "auditor": await create_token(pool, "auditor", None),
        "kiosk": await create_token(pool, "device", C, device_kind="kiosk"),
    }
    return {"admin": AUTH, **{k: {"Authorization": f"Bearer {v}"} for k, v in made.items()}}


async def test_every_ticket_action_by_every_role_over_http(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        headers = await _tokens(app)
        hall = Hall(client)
        for action, target, allowed in TICKET_CASES:
            for actor in HTTP_ACTORS:
                tid = await hall.target(target)
                before = (await client.get(f"/api/v1/tickets/{tid}")).json()
                body = {"to_queue": "quick"} if action == "transfer" else {}
                r = await hall.post(f"/api/v1/tickets/{tid}/{action}", body, headers[actor])
                case = f"{actor} {action} {target}: {r.status_code} {r.text}"
                if actor in allowed:
                    assert r.status_code == 200, case
                else:
                    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", case
                    after = (await client.get(f"/api/v1/tickets/{tid}")).json()
                    assert after["status"] == before["status"] and after["version"] == before["version"], case


async def test_every_window_action_by_every_role_over_http(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        headers = await _tokens(app)
        hall = Hall(client)
        for action, state in WINDOW_CASES:
            for actor in HTTP_ACTORS:
                await hall.window("w1", state)
                if action == "call-next":
                    await hall.waiting()
                before = (await client.get(f"/api/v1/centers/{C}/queue")).json()["windows"]
                body = {} if action == "call-next" else {"reason": "lunch", "staff_id": f"{C}-s01"}
                r = await hall.post(f"/api/v1/centers/{C}/windows/w1/{action}", body, headers[actor])
                case = f"{actor} {action} w1 ({state}): {r.status_code} {r.text}"
                if actor in MAY_AT_W1:
                    assert r.status_code == 200, case
                    if action == "call-next":
                        hall.current["w1"] = r.json()["ticket"]["id"]
                else:
                    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", case
                    assert (await client.get(f"/api/v1/centers/{C}/queue")).json()["windows"] == before, case


async def test_a_clerk_racing_a_transfer_away_never_acts_on_a_line_it_does_not_serve(settings: Settings) -> None:
    """The clerk's cancel and the manager's transfer to another window's own line, at once, twenty
    times: exactly one of them wins each time, and a ticket that left the clerk's lines is never
    cancelled by the clerk (the engine checks the line in the script that moves the ticket)."""
    async with running_app(settings) as (app, client):
        headers = await _tokens(app)
        hall = Hall(client)
        for _ in range(20):
            tid = await hall.waiting()
            cancel, transfer = await asyncio.gather(
                hall.post(f"/api/v1/tickets/{tid}/cancel", {}, headers["clerk w1"]),
                hall.post(f"/api/v1/tickets/{tid}/transfer", {"to_window": "w3"}, headers["manager"]))
            final = (await client.get(f"/api/v1/tickets/{tid}")).json()
            if cancel.status_code == 200:
                assert transfer.status_code == 409 and final["status"] == "cancelled", transfer.text
            else:
                assert cancel.status_code == 403 and transfer.status_code == 200, (cancel.text, transfer.text)
                assert final["status"] == "waiting" and final["target_window"] == "w3"
