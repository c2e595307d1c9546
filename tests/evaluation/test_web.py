"""Web review links: unguessable, single use, expiring, bound to one ticket; the page is served."""
from __future__ import annotations

import asyncio

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, PUBLIC, desk_for, eval_settings
from tests.support import AUTH


async def test_a_link_rates_once_and_then_never_again(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(eval_settings(settings, QUEUE_REVIEW_LINK_TTL_H="24"), clock) as desk:
        t = await desk.serve("w6", matter="mi-002")
        tablet = await desk.token("device", "w6", "tablet")
        made = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"]}, headers=tablet)
        assert made.status_code == 201, made.text
        assert made.json()["url"].startswith(PUBLIC + "/review/")
        token = made.json()["url"].rsplit("/", 1)[1]
        assert len(token) >= 32
        stored = await desk.pool.fetchval("SELECT token_hash FROM review_links")
        assert token not in stored and len(stored) == 64  # only the hash is kept

        info = await desk.client.get(f"/api/v1/reviews/links/{token}")
        assert info.status_code == 200
        assert (info.json()["number"], info.json()["window"]["code"], info.json()["matter"]["code"]) == (t["number"], "w6", "mi-002")
        page = await desk.client.get(f"/review/{token}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["referrer-policy"] == "no-referrer" and "sha256-" in page.headers["content-security-policy"]

        other = await desk.serve("w6")
        wrong = await desk.rate(other["id"], 5, channel="web", link=token)
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "ticket_id"
        no_link = await desk.rate(t["id"], 5, channel="web")
        assert no_link.status_code == 422 and no_link.json()["errors"][0]["field"] == "link"
        with_device = await desk.rate(t["id"], 5, tablet, channel="web", link=token)
        assert with_device.status_code == 403
        racing = await asyncio.gather(*(desk.rate(t["id"], level, channel="web", link=token) for level in (5, 3, 4)))
        assert sorted(r.status_code for r in racing) == [201, 409, 409]
        assert next(r for r in racing if r.status_code == 201).json()["channel"] == "web"
        reused = await desk.rate(t["id"], 5, channel="web", link=token)
        assert reused.status_code == 409 and reused.json()["code"] == "link_used"
        assert (await desk.client.get(f"/api/v1/reviews/links/{token}")).status_code == 409
        assert await desk.pool.fetchval("SELECT count(*) FROM reviews") == 1


async def test_expired_and_unknown_links_are_refused(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(eval_settings(settings, QUEUE_REVIEW_LINK_TTL_H="24"), clock) as desk:
        t = await desk.serve("w1")
        staff = await desk.token("staff", "w1", staff=f"{C}-s01")
        made = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"]}, headers=staff)
        token = made.json()["url"].rsplit("/", 1)[1]
        clock.advance(24 * 3600)
        expired = await desk.rate(t["id"], 5, channel="web", link=token)
        assert expired.status_code == 410 and expired.headers["content-type"] == "application/problem+json"
        assert (await desk.client.get(f"/api/v1/reviews/links/{token}")).status_code == 410
        unknown = await desk.rate(t["id"], 5, channel="web", link="A" * 32)
        assert unknown.status_code == 404
        malformed = await desk.rate(t["id"], 5, channel="web", link="short")
        assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "link"
        assert (await desk.client.get("/api/v1/reviews/links/short")).status_code == 404
        assert await desk.pool.fetchval("SELECT count(*) FROM reviews") == 0
        # who may make links: not a display, not another center's kiosk; the ticket must exist
        display = await desk.token("device", None, "display")
        assert (await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"]}, headers=display)).status_code == 403
        foreign = await desk.token("device", None, "kiosk", center="caojiadu")
        assert (await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"]}, headers=foreign)).status_code == 403
        r = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": f"{C}-20261130-Q999"}, headers=AUTH)
        assert r.status_code == 404
        r = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"], "round": 2}, headers=AUTH)
        assert r.status_code == 409  # no rectified case to follow up


async def test_the_scale_is_bilingual(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(eval_settings(settings), clock) as desk:
        scale = (await desk.client.get("/api/v1/reviews/scale")).json()
        assert [(lvl["level"], lvl["zh"], lvl["bad"]) for lvl in scale["levels"]] == [
            (5, "非常满意", False), (4, "满意", False), (3, "基本满意", False), (2, "不满意", True), (1, "非常不满意", True)]
        assert [r["code"] for r in scale["reasons"]] == ["efficiency", "attitude", "professionalism", "process",
                                                          "environment", "other"]


async def test_a_ticket_has_one_live_link_minted_early_and_usable_once_finished(settings: Settings, clock: FixedClock) -> None:
    """The kiosk mints the printed QR's link at issue; the tablet, staff and a flood of retries get the
    very same link back; it says "not finished yet" until the ticket is finished, then rates once."""
    async with desk_for(eval_settings(settings, QUEUE_REVIEW_LINK_TTL_H="24"), clock) as desk:
        await desk.open("w1", f"{C}-s01")
        kiosk = await desk.token("device", None, "kiosk")
        issued = await desk.client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=kiosk)
        assert issued.status_code == 201, issued.text
        tid = issued.json()["id"]
        printed = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": tid}, headers=kiosk)
        assert printed.status_code == 201, printed.text
        url = printed.json()["url"]
        token = url.rsplit("/", 1)[1]

        early = await desk.client.get(f"/api/v1/reviews/links/{token}")
        assert early.status_code == 409 and early.json()["title"] == "Not finished"
        too_early = await desk.rate(tid, 5, channel="web", link=token)
        assert too_early.status_code == 409 and "finished" in too_early.json()["detail"]

        staff = await desk.token("staff", "w1", staff=f"{C}-s01")
        mints = [await desk.client.post("/api/v1/reviews/links", json={"ticket_id": tid}, headers=staff) for _ in range(150)]
        mints += await asyncio.gather(*(desk.client.post("/api/v1/reviews/links", json={"ticket_id": tid}, headers=AUTH)
                                        for _ in range(150)))
        assert {r.status_code for r in mints} == {201}
        assert {r.json()["url"] for r in mints} == {url}
        assert {r.json()["expires_at"] for r in mints} == {printed.json()["expires_at"]}
        assert await desk.pool.fetchval("SELECT count(*) FROM review_links") == 1

        reprinted = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": tid}, headers=kiosk)
        assert reprinted.json()["url"] == url

        for step in ("call-next", "start", "finish"):
            path = f"/api/v1/centers/{C}/windows/w1/call-next" if step == "call-next" else f"/api/v1/tickets/{tid}/{step}"
            assert (await desk.client.post(path, json={"ticket": tid, "reason": "test"} if step == "call-next" else None,
                                           headers=AUTH)).status_code == 200
        assert (await desk.client.get(f"/api/v1/reviews/links/{token}")).status_code == 200
        rated = await desk.rate(tid, 4, channel="web", link=token)
        assert rated.status_code == 201, rated.text
        assert await desk.pool.fetchval("SELECT count(*) FROM review_links WHERE used_at IS NOT NULL") == 1
        # the used link is no longer live: minting again, even the same millisecond, makes another
        again = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": tid}, headers=staff)
        assert again.status_code == 201 and again.json()["url"] != url


async def test_an_expired_link_gives_way_to_a_new_one(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(eval_settings(settings, QUEUE_REVIEW_LINK_TTL_H="24"), clock) as desk:
        t = await desk.serve("w1")
        first = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"]}, headers=AUTH)
        clock.advance(24 * 3600)
        second = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"]}, headers=AUTH)
        assert second.status_code == 201 and second.json()["url"] != first.json()["url"]
        again = await desk.client.post("/api/v1/reviews/links", json={"ticket_id": t["id"]}, headers=AUTH)
        assert again.json()["url"] == second.json()["url"]
        assert (await desk.rate(t["id"], 5, channel="web", link=second.json()["url"].rsplit("/", 1)[1])).status_code == 201
