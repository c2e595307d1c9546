"""Ratings on the request path: tablet ratings (``POST /api/v1/reviews``) and SMS replies (a signed
``POST /sms/twilio/inbound``) arriving open-loop at a fixed rate, as they do in the load profiles
(a tablet rates whatever is still outstanding), against the bare baseline endpoint (Starlette + one
Redis script) at the same rate, in the same run, on one real server process each.

    python -m loadtests.ratings [--rate 150] [--seconds 10] [--sms-share 0.25]

Then, unloaded, where one rating's time goes: the rating statement alone (its commit waiting for
the WAL flush, and the same without that wait), the ``review.recorded`` XADD, the Twilio signature
check, one whole rating and SMS reply over HTTP, and an SMS reply's statement as the first on a new
connection (as most were at the city's rate), with and without the pool's ``prepare_on_open``.
Prints JSON; ``ratio`` is each kind's p99 over the baseline's p99 at the same rate."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import aiohttp
import asyncpg
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from evaluation.config import EvalConfig
from evaluation.reviews import NewReview, rate_args
from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, server, services
from queue_server.domain.calendar import Calendar
from queue_server.engine.keys import Keys
from queue_server.record.pooled import prepare_on_open
from queue_server.record.personal import DEMO_KEY, PersonalData, parse_key

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
C = "jingansi"
WINDOWS = [f"w{i}" for i in range(1, 9)]
PUBLIC = "https://queue.bench.example"
TWILIO_TOKEN = "bench-twilio-auth-token"


def figures(took: list[float], failed: int) -> dict:
    return {"n": len(took), "failed": failed, **{p: round(percentile(took, v), 1)
                                                for p, v in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))}}


async def open_loop(rate: float, requests: list, send) -> dict:  # type: ignore[no-untyped-def]
    """Each request at its planned instant whatever is still outstanding; latency from that instant."""
    took: list[float] = []
    failed = 0

    async def one(planned: float, item) -> None:  # type: ignore[no-untyped-def]
        nonlocal failed
        await asyncio.sleep(max(0.0, planned - time.perf_counter()))
        try:
            ok = await send(item)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            ok = False
        took.append((time.perf_counter() - planned) * 1000)
        failed += not ok

    start = time.perf_counter() + 0.2
    await asyncio.gather(*(one(start + i / rate, item) for i, item in enumerate(requests)))
    return figures(took, failed)


async def serve(http: aiohttp.ClientSession, url: str, window: str, n: int) -> list[str]:
    done = []
    for _ in range(n):
        async with http.post(f"{url}/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH) as r:
            tid = (await r.json())["id"]
        async with http.post(f"{url}/api/v1/centers/{C}/windows/{window}/call-next", json={"ticket": tid, "reason": "bench"},
                             headers=AUTH) as r:
            assert r.status == 200, await r.text()
        for step in ("start", "finish"):
            async with http.post(f"{url}/api/v1/tickets/{tid}/{step}", headers=AUTH) as r:
                assert r.status == 200, await r.text()
        done.append(tid)
    return done


async def prompts_sent(pool: asyncpg.Pool, tickets: list[str]) -> list[str]:
    """A sent prompt for each ticket, each to its own number (as the outbox leaves it); the numbers."""
    personal = PersonalData(parse_key(DEMO_KEY))
    numbers = [f"+86137{uuid.uuid4().int % 10**8:08d}" for _ in tickets]
    sent = datetime.now(timezone.utc) - timedelta(seconds=30)
    await pool.executemany("INSERT INTO sms_messages (ticket_id, kind, to_sealed, to_lookup, due_at, state, sent_at)"
                           " VALUES ($1, 'prompt', $2, $3, $4, 'sent', $4)",
                           [(t, personal.seal(n), personal.lookup(n), sent) for t, n in zip(tickets, numbers)])
    return numbers


def sms_form(number: str) -> tuple[dict[str, str], dict[str, str]]:
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32, "From": number, "To": "+8610690000",
              "Body": "5", "NumMedia": "0"}
    return params, {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + "/sms/twilio/inbound",
                                                                                           params)}


async def anatomy(http: aiohttp.ClientSession, url: str, database_url: str, redis_url: str, prefix: str,
                  tablets: dict[str, dict[str, str]], spare: dict[str, list[str]], numbers: list[str]) -> dict:
    """Unloaded, one at a time: each part of a rating alone, then whole ones over HTTP, then an SMS
    reply's statement as the first on a new connection, with and without ``prepare_on_open``."""
    from evaluation.reviews import _RATE  # the statements themselves, timed apart from their endpoints
    from evaluation.sms.inbound import _RATE_AND_ANSWER

    conn = await asyncpg.connect(database_url)
    redis = Redis.from_url(redis_url)
    keys = Keys(prefix)
    parts: dict[str, list[float]] = {"statement": [], "statement_no_wal_wait": [], "xadd": [], "signature_check": [],
                                     "tablet_rating_http": [], "sms_reply_http": [], "sms_statement_new_connection": [],
                                     "sms_statement_new_connection_prepared_on_open": []}
    try:
        for _ in range(100):
            started = time.perf_counter()
            await redis.xadd(keys.events(f"bench{prefix}"), {"type": "x", "data": b"{}" * 200}, maxlen=1000,
                             approximate=True)
            parts["xadd"].append((time.perf_counter() - started) * 1000)
        await redis.delete(keys.events(f"bench{prefix}"))
        params, headers = sms_form(numbers[0])
        validator = RequestValidator(TWILIO_TOKEN)
        for _ in range(200):
            started = time.perf_counter()
            validator.validate(PUBLIC + "/sms/twilio/inbound", params, headers["X-Twilio-Signature"])
            parts["signature_check"].append((time.perf_counter() - started) * 1000)
        for window, tids in spare.items():
            for tid in tids:
                started = time.perf_counter()
                async with http.post(f"{url}/api/v1/reviews", json={"ticket_id": tid, "level": 5, "channel": "tablet"},
                                     headers=tablets[window]) as r:
                    assert r.status == 201, await r.text()
                parts["tablet_rating_http"].append((time.perf_counter() - started) * 1000)
        for number in numbers:
            params, headers = sms_form(number)
            started = time.perf_counter()
            async with http.post(f"{url}/sms/twilio/inbound", data=params, headers=headers) as r:
                assert r.status == 200, await r.text()
            parts["sms_reply_http"].append((time.perf_counter() - started) * 1000)
        rows = await conn.fetch("SELECT ticket_id FROM eval_served WHERE ticket_id NOT IN (SELECT ticket_id FROM reviews)"
                                " LIMIT 120")
        free = [r["ticket_id"] for r in rows]
        new = NewReview(level=5, channel="tablet")
        for i, tid in enumerate(free[:120]):
            args = rate_args(new, int(time.time() * 1000), EvalConfig(commit_waits_for_flush=i < 60), "Asia/Shanghai",
                             Calendar())
            started = time.perf_counter()
            await conn.fetchrow(_RATE, tid, *args)
            parts["statement" if i < 60 else "statement_no_wal_wait"].append((time.perf_counter() - started) * 1000)
        sms = NewReview(level=5, channel="sms")
        for i in range(40):   # a number without a prompt: the statement finds nothing and writes nothing
            fresh = await asyncpg.connect(database_url)
            try:
                if i % 2:
                    await prepare_on_open(fresh)
                args = rate_args(sms, int(time.time() * 1000), EvalConfig(), "Asia/Shanghai", Calendar())
                started = time.perf_counter()
                await fresh.fetchrow(_RATE_AND_ANSWER, [b"none"], *args, "SM" + uuid.uuid4().hex, "", "", "done", None)
                parts["sms_statement_new_connection" + ("_prepared_on_open" if i % 2 else "")].append(
                    (time.perf_counter() - started) * 1000)
            finally:
                await fresh.close()
    finally:
        await conn.close()
        await redis.aclose()
    return {k: {"n": len(v), "p50": round(percentile(v, 50), 3), "p99": round(percentile(v, 99), 3)} for k, v in parts.items()}


async def measure(rate: float, seconds: float, sms_share: float) -> dict:
    """The figures at ``rate`` (``loaded``) and where one rating's time goes (``unloaded``)."""
    n_tablet = int(rate * seconds)
    n_sms = int(rate * sms_share * seconds)
    spare_each, anatomy_sms, statements = 5, 40, 120
    env = {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "QUEUE_PUBLIC_BASE_URL": PUBLIC}
    with services() as (redis_url, dsn):
        async with fresh_database(dsn) as database_url:
            with key_prefix(redis_url, "rate") as prefix, server(redis_url, database_url, prefix, extra_env=env) as (url, _), \
                    key_prefix(redis_url, "base") as base_prefix, \
                    server(redis_url, database_url, base_prefix, app="loadtests.baseline_app:create_app") as (base, _):
                pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                                 timeout=aiohttp.ClientTimeout(total=10)) as http:
                    tablets: dict[str, dict[str, str]] = {}
                    for i, w in enumerate(WINDOWS):
                        async with http.post(f"{url}/api/v1/centers/{C}/windows/{w}/open",
                                             json={"staff_id": f"{C}-s{i + 1:02d}"}, headers=AUTH) as r:
                            assert r.status == 200, await r.text()
                        async with http.post(f"{url}/api/v1/tokens", json={"role": "device", "center": C, "window": w,
                                                                           "device_kind": "tablet"}, headers=AUTH) as r:
                            tablets[w] = {"Authorization": f"Bearer {(await r.json())['token']}"}
                    per_window = -(-(n_tablet + n_sms + anatomy_sms + statements) // len(WINDOWS)) + spare_each
                    served = await asyncio.gather(*(serve(http, url, w, per_window) for w in WINDOWS))
                    spare = {w: tids[-spare_each:] for w, tids in zip(WINDOWS, served)}
                    pairs = [(w, t) for w, tids in zip(WINDOWS, served) for t in tids[:-spare_each]]
                    pairs = pairs[::2] + pairs[1::2]  # windows interleaved, as finishes arrive
                    tablet_work, sms_work = pairs[:n_tablet], [t for _, t in pairs[n_tablet:n_tablet + n_sms + anatomy_sms]]
                    every = [t for tids in served for t in tids]
                    deadline = time.monotonic() + 60
                    while await pool.fetchval("SELECT count(*) FROM eval_served WHERE ticket_id = ANY($1)", every) < len(every):
                        assert time.monotonic() < deadline, "the served tickets were not recorded"
                        await asyncio.sleep(0.2)
                    numbers = await prompts_sent(pool, sms_work)
                    levels = [5, 4, 5, 3, 5, 4, 5, 5, 2, 5]

                    async def baseline(_: object) -> bool:
                        async with http.post(f"{base}/op", data=b"{}") as r:
                            await r.read()
                            return r.status == 200

                    async def tablet(item: tuple[int, tuple[str, str]]) -> bool:
                        i, (window, tid) = item
                        level = levels[i % len(levels)]
                        body = {"ticket_id": tid, "level": level, "channel": "tablet",
                                "reasons": ["attitude"] if level <= 2 else []}
                        async with http.post(f"{url}/api/v1/reviews", json=body, headers=tablets[window]) as r:
                            await r.read()
                            return r.status == 201

                    async def sms(number: str) -> bool:
                        params, headers = sms_form(number)
                        async with http.post(f"{url}/sms/twilio/inbound", data=params, headers=headers) as r:
                            text = await r.text()
                            return r.status == 200 and "<Message>" in text

                    out = {"rate": rate, "seconds": seconds, "baseline": await open_loop(rate, list(range(n_tablet)), baseline)}
                    out["tablet_rating"] = await open_loop(rate, list(enumerate(tablet_work)), tablet)
                    sms_rate = rate * sms_share
                    out["sms_reply"] = await open_loop(sms_rate, numbers[anatomy_sms:], sms)
                    out["baseline_at_sms_rate"] = await open_loop(sms_rate, list(range(n_sms)), baseline)
                    out["ratio"] = {"tablet_rating_p99_over_baseline_p99": round(out["tablet_rating"]["p99"] / out["baseline"]["p99"], 2),
                                    "sms_reply_p99_over_baseline_p99": round(out["sms_reply"]["p99"] / out["baseline_at_sms_rate"]["p99"], 2)}
                    recorded = await pool.fetchval("SELECT count(*) FROM reviews WHERE ticket_id = ANY($1)", every)
                    out["recorded"] = recorded
                    unloaded = await anatomy(http, url, database_url, redis_url, prefix, tablets, spare,
                                             numbers[:anatomy_sms])
                await pool.close()
                return {"loaded": out, "unloaded": unloaded}


async def main(rate: float, seconds: float, sms_share: float) -> None:
    print(json.dumps(await measure(rate, seconds, sms_share), indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=150, help="tablet ratings a second (and baseline requests)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sms-share", type=float, default=0.25, help="SMS replies a second, as a share of --rate")
    args = parser.parse_args()
    run(main(args.rate, args.seconds, args.sms_share))
