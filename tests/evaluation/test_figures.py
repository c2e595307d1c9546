"""The figures API against a generated day of ratings whose figures the test works out on its own:
tablet, QR web, SMS and SMS-link web ratings, unrated tickets given the configured default level,
and bad reviews whose cases were handled on time, late, or not at all."""
from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, MONDAY, PUBLIC, desk_for, eval_settings, eventually, inbound
from tests.support import AUTH

THURSDAY = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai: every finish over two days ago
WINDOWS = ["w1", "w2", "w3", "w4"]
MATTERS = ["hrss-001", "mi-001", "ca-002"]
DEFAULT = 4


@dataclass
class Plan:
    window: str
    matter: str
    channel: str  # tablet | qr | sms | smsweb | none
    level: int | None
    handling: str = ""  # for bad ones: done (all stages on Monday), contacted (Monday), late (contacted Thursday), none
    id: str = ""
    phone: str | None = None

    @property
    def prompted(self) -> bool:
        return self.channel in ("sms", "smsweb")


def expected(plans: list[Plan], by: list[str]) -> dict[tuple, dict[str, Any]]:
    """The figures worked out from the plan, without the server's SQL."""
    keyed: dict[tuple, list[Plan]] = defaultdict(list)
    for p in plans:
        key = {"center": C, "window": p.window, "staff": f"{C}-s0{p.window[1]}", "matter": p.matter, "day": "2026-11-30"}
        keyed[tuple(key[g] for g in by)].append(p)
    out = {}
    for key, group in keyed.items():
        rated = [p for p in group if p.level is not None]
        good = [p for p in rated if p.level >= 4]  # type: ignore[operator]
        proactive = [p for p in rated if not p.prompted]
        bad = [p for p in rated if p.level <= 2]  # type: ignore[operator]
        unrated = [p for p in group if p.level is None]

        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None
        out[key] = {
            "served": len(group), "rated": len(rated), "unrated": len(unrated), "pending": 0,
            "satisfaction_rate": rate(len(good), len(rated)),
            "proactive": len(proactive), "proactive_share": rate(len(proactive), len(rated)),
            "proactive_satisfaction_rate": rate(len([p for p in proactive if p.level >= 4]), len(proactive)),  # type: ignore[operator]
            "unrated_share": rate(len(unrated), len(group)),
            "defaults": {"count": len(unrated), "good": len(unrated),
                         "satisfaction_rate_with_defaults": rate(len(good) + len(unrated), len(rated) + len(unrated))},
            "bad": len(bad),
            "reply_rate": rate(len([p for p in bad if p.handling in ("done", "contacted", "late")]), len(bad)),
            "rectification_rate": rate(len([p for p in bad if p.handling == "done"]), len(bad)),
            "on_time_rate": rate(len([p for p in bad if p.handling in ("done", "contacted")]), len(bad)),
            "levels": {str(n): len([p for p in rated if p.level == n]) for n in range(1, 6)},
        }
    return out


def make_plans(rng: random.Random, n: int) -> list[Plan]:
    plans = []
    for i in range(n):
        channel = rng.choice(["tablet", "tablet", "qr", "sms", "smsweb", "none"])
        level = None if channel == "none" else rng.choice([1, 2, 3, 4, 5, 5, 4, 5])
        handling = rng.choice(["done", "contacted", "late", "none"]) if level is not None and level <= 2 else ""
        phone = f"1390000{i:04d}" if channel in ("sms", "smsweb") or (channel == "none" and i % 2) else None
        plans.append(Plan(rng.choice(WINDOWS), rng.choice(MATTERS), channel, level, handling, phone=phone))
    return plans


async def test_figures_match_a_generated_day(settings: Settings, standin: TwilioStandin) -> None:
    clock = FixedClock(MONDAY)
    rng = random.Random(20261130)
    plans = make_plans(rng, 48)
    s = eval_settings(settings, standin, QUEUE_REVIEW_UNRATED_DAYS="2", QUEUE_REVIEW_DEFAULT_LEVEL=str(DEFAULT))
    async with desk_for(s, clock) as desk:
        tablets = {w: await desk.token("device", w, "tablet") for w in WINDOWS}
        for p in plans:
            t = await desk.serve(p.window, matter=p.matter, phone=p.phone, minutes=rng.choice([3, 5, 8]))
            p.id = t["id"]
            if p.phone:  # the clock runs hours ahead: a finish the consumer met an hour late would get no prompt
                await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM sms_messages WHERE ticket_id = $1", p.id),
                                 what="prompt queued")
            reasons = ["efficiency"] if p.level is not None and p.level <= 2 else []
            if p.channel == "tablet":
                assert (await desk.rate(p.id, p.level, tablets[p.window], reasons=reasons)).status_code == 201  # type: ignore[arg-type]
            elif p.channel == "qr":
                link = (await desk.client.post("/api/v1/reviews/links", json={"ticket_id": p.id}, headers=tablets[p.window])).json()
                r = await desk.rate(p.id, p.level, channel="web", reasons=reasons, link=link["url"].rsplit("/", 1)[1])  # type: ignore[arg-type]
                assert r.status_code == 201, r.text
        clock.advance(301)

        async def all_sent():  # type: ignore[no-untyped-def]
            n = await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE state = 'sent'")
            return n == len([p for p in plans if p.phone])
        await eventually(all_sent, what="every prompt sent")
        for i, p in enumerate(plans):
            if p.channel == "sms":
                assert "<Message>" in (await desk.sms(inbound(str(p.level), f"SM{i:032d}", "+86" + p.phone))).text  # type: ignore[operator]
            elif p.channel == "smsweb":
                body = standin.to("+86" + p.phone)[0].body  # type: ignore[operator]
                token = re.search(re.escape(PUBLIC) + r"/review/([A-Za-z0-9_\-]+)", body).group(1)  # type: ignore[union-attr]
                reasons = ["process"] if p.level <= 2 else []  # type: ignore[operator]
                assert (await desk.rate(p.id, p.level, channel="web", reasons=reasons, link=token)).status_code == 201  # type: ignore[arg-type]
        cases = dict(await desk.pool.fetch("SELECT ticket_id, id FROM rectifications"))
        bad = [p for p in plans if p.level is not None and p.level <= 2]
        assert set(cases) == {p.id for p in bad}

        async def step(p: Plan, *actions: str) -> None:
            for a in actions:
                r = await desk.client.post(f"/api/v1/rectifications/{cases[p.id]}/{a}", json={}, headers=AUTH)
                assert r.status_code == 200, r.text
        for p in bad:
            if p.handling == "done":
                await step(p, "contact", "verify", "rectify")
            elif p.handling == "contacted":
                await step(p, "contact")
        clock.set(THURSDAY)
        for p in bad:
            if p.handling == "late":
                await step(p, "contact")

        async def swept():  # type: ignore[no-untyped-def]
            return await desk.pool.fetchval("SELECT count(*) FROM eval_served WHERE unrated_at IS NOT NULL") == len(
                [p for p in plans if p.level is None])
        await eventually(swept, what="unrated tickets marked")

        manager = await desk.token("manager")
        for by in (["window"], ["staff"], ["matter"], ["center", "day"], ["window", "matter"]):
            r = await desk.client.get(f"/api/v1/reviews/figures?since=2026-11-30&until=2026-11-30&by={','.join(by)}",
                                      headers=manager)
            assert r.status_code == 200, r.text
            want = expected(plans, by)
            got = {tuple(row[g] for g in by): row for row in r.json()["rows"]}
            assert set(got) == set(want), by
            for key, figures in want.items():
                row = got[key]
                for name, value in figures.items():
                    assert row[name] == value, (by, key, name, row[name], value)
        assert any(p.channel == c for p in plans for c in ("tablet", "qr", "sms", "smsweb", "none"))
        assert {p.handling for p in bad} == {"done", "contacted", "late", "none"}


async def test_who_sees_the_figures(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(eval_settings(settings), clock) as desk:
        t = await desk.serve("w1")
        await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM eval_served WHERE ticket_id = $1", t["id"]),
                         what="the consumer to record the served ticket")
        url = "/api/v1/reviews/figures"
        dashboard = await desk.token("device", None, "dashboard")
        r = await desk.client.get(url, headers=dashboard)
        assert r.status_code == 200 and r.json()["rows"][0]["served"] == 1 and r.json()["rows"][0]["pending"] == 1
        assert (await desk.client.get(url + "?center=caojiadu", headers=dashboard)).status_code == 403
        assert (await desk.client.get(url, headers=await desk.token("staff", "w1", staff=f"{C}-s01"))).status_code == 403
        assert (await desk.client.get(url, headers=await desk.token("device", "w1", "tablet"))).status_code == 403
        assert (await desk.client.get(url)).status_code == 401
        district = (await desk.client.get(url + "?by=center", headers=AUTH)).json()
        assert [row["center"] for row in district["rows"]] == [C]
        for query, field in (("by=colour", "by"), ("by=", "by"), ("since=yesterday", "since"),
                             ("since=2026-12-01&until=2026-11-01", "since"), ("until=2026-13-01", "until")):
            r = await desk.client.get(f"{url}?{query}", headers=AUTH)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, query
        assert (await desk.client.get(url + "?center=nowhere", headers=AUTH)).status_code == 404
