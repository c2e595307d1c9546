"""How many SMS a second the outbox hands to Twilio: the real ``twilio`` library (async client)
against the local stand-in of the Messages API in its own uvicorn process, prompts queued in a fresh
PostgreSQL database, per-number limits in Redis, all on loopback.

    python -m loadtests.sms_outbox [--messages 2000]

Prints a JSON summary per configuration (batch size, concurrent sends, senders sharing the outbox);
with two senders it also checks that no message went out twice."""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
from redis.asyncio import Redis

from evaluation.config import EvalConfig
from evaluation.sms.outbox import Outbox
from evaluation.sms.standin import TwilioStandin
from evaluation.sms.twilio_client import TwilioSender
from loadtests.harness import ROOT, fresh_database, services
from queue_server.clock import SystemClock
from queue_server.embedded import free_port
from queue_server.engine.keys import Keys, drop_keys
from queue_server.record.catalog import load_catalog
from queue_server.record.personal import DEMO_KEY, PersonalData, parse_key

C = "jingansi"


def standin_process() -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "evaluation.sms.standin:standin_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
                             "--loop", "uvloop", "--http", "httptools"], cwd=ROOT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return f"http://127.0.0.1:{port}", proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the stand-in did not start") from None
            time.sleep(0.1)


async def queue_prompts(pool: asyncpg.Pool, n: int, run: str) -> None:
    now = datetime.now(timezone.utc)
    ids = [f"{C}-20261130-{run}{i:05d}" for i in range(n)]
    await pool.executemany("INSERT INTO eval_served (ticket_id, center, window_code, staff_id, matter, day, finished_at,"
                           " has_phone) VALUES ($1, $2, 'w1', 'jingansi-s01', 'hrss-001', '2026-11-30', $3, true)",
                           [(t, C, now - timedelta(minutes=10)) for t in ids])
    personal = PersonalData(parse_key(DEMO_KEY))
    await pool.executemany("INSERT INTO sms_messages (ticket_id, kind, to_sealed, to_lookup, due_at) VALUES ($1, 'prompt', $2, $3, $4)",
                           [(t, personal.seal(f"+86139{i:08d}"), personal.lookup(f"+86139{i:08d}"), now - timedelta(seconds=1))
                            for i, t in enumerate(ids)])


async def measure(database_url: str, redis_url: str, base: str, n: int, batch: int, concurrency: int, senders: int,
                  run: str) -> dict:
    standin = TwilioStandin()
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=10 * senders)
    redis = Redis.from_url(redis_url)
    keys = Keys(f"load{uuid.uuid4().hex[:8]}")
    try:
        await queue_prompts(pool, n, run)
        catalog = await load_catalog(pool)
        cfg = replace(EvalConfig(), sms_batch=batch, sms_concurrency=concurrency, sms_per_number_per_hour=10)
        outboxes = []
        for _ in range(senders):
            sender = TwilioSender(standin.account_sid, standin.auth_token, "+8610690000", base,
                                  "https://queue.example/sms/twilio/status")
            outboxes.append(Outbox(pool, redis, keys, cfg, SystemClock(), catalog, "https://queue.example", sender,
                                    PersonalData(parse_key(DEMO_KEY))))
        before = len(httpx.get(f"{base}/2010-04-01/Accounts/{standin.account_sid}/Messages.json",
                               auth=(standin.account_sid, standin.auth_token)).json()["messages"])

        async def drain(o: Outbox) -> None:
            while await o.run_once():
                pass

        started = time.perf_counter()
        await asyncio.gather(*(drain(o) for o in outboxes))
        took = time.perf_counter() - started
        for o in outboxes:
            await o.sender.close()
        after = len(httpx.get(f"{base}/2010-04-01/Accounts/{standin.account_sid}/Messages.json",
                              auth=(standin.account_sid, standin.auth_token)).json()["messages"])
        sent = sum(o.sent for o in outboxes)
        states = dict(await pool.fetch("SELECT state, count(*) FROM sms_messages WHERE ticket_id LIKE $1 GROUP BY state",
                                       f"%-{run}%"))
        return {"messages": n, "batch": batch, "concurrency": concurrency, "senders": senders, "sent": sent,
                "received_by_standin": after - before, "states": states, "seconds": round(took, 2),
                "sms_per_s": round(sent / took, 1)}
    finally:
        await redis.aclose()
        await pool.close()
        drop_keys(redis_url, keys.everything)


async def main(n: int) -> None:
    with services() as (redis_url, dsn):
        async with fresh_database(dsn) as database_url:
            base, proc = standin_process()
            try:
                results = []
                for i, (batch, concurrency, senders) in enumerate([(50, 16, 1), (200, 64, 1), (50, 16, 2)]):
                    results.append(await measure(database_url, redis_url, base, n, batch, concurrency, senders, f"R{i}"))
                    print(json.dumps(results[-1]), flush=True)
                for r in results:
                    assert r["received_by_standin"] == r["sent"] == r["messages"], r
            finally:
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    asyncio.run(main(parser.parse_args().messages))
