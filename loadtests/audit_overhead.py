"""What the audit trail costs a staff action, in one run: the same clerk actions (window open,
pause, open, close) through the same app in process, in rounds with the audit trail in the
middleware stack and without it, in ABBA order (its writer keeps running). Prints a JSON summary: actions per
second each way and their ratio.

    python -m loadtests.audit_overhead [--rounds 10] [--per-round 200]"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import httpx

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, run, services
from queue_server.app import create_app
from queue_server.audit.trail import AuditTrail
from queue_server.config import Settings
from queue_server.record.people import create_token

C = "jingansi"


async def measure(redis_url: str, database_url: str, prefix: str, rounds: int, per_round: int) -> dict:
    settings = replace(Settings.from_env(), redis_url=redis_url, database_url=database_url, key_prefix=prefix,
                       admin_token=ADMIN_TOKEN, rate_limit_per_minute=10_000_000)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        audited = app.middleware_stack
        assert isinstance(audited, AuditTrail)
        token = await create_token(app.state.pool, "staff", C, "w1", f"{C}-s01", label="load clerk")
        headers = {"Authorization": f"Bearer {token}", "User-Agent": "audit-overhead"}
        steps = [("open", {}), ("pause", {"reason": "break"}), ("open", {}), ("close", {})]
        took = {"audited": 0.0, "bare": 0.0}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://load") as client:
            for r in range(rounds * 2):
                way = "audited" if r % 4 in (0, 3) else "bare"   # ABBA: a drift over the run weighs on both alike
                app.middleware_stack = audited if way == "audited" else audited.app
                t0 = time.perf_counter()
                for i in range(per_round):
                    state, body = steps[i % 4]
                    resp = await client.post(f"/api/v1/centers/{C}/windows/w1/{state}", json=body, headers=headers)
                    assert resp.status_code == 200, resp.text
                took[way] += time.perf_counter() - t0
        app.middleware_stack = audited
        await app.state.audit.flush()
        logged = await app.state.pool.fetchval("SELECT count(*) FROM audit_log WHERE actor = $1", f"{C}-s01")
    n = rounds * per_round
    rate = {way: round(n / s, 1) for way, s in took.items()}
    return {"actions_each_way": n, "actions_per_s": rate, "audited_vs_bare": round(rate["audited"] / rate["bare"], 3),
            "extra_us_per_action": round((took["audited"] - took["bare"]) / n * 1e6, 1), "audit_entries": logged}


async def main(rounds: int, per_round: int) -> None:
    with services() as (redis_url, dsn), key_prefix(redis_url, "loadaudit") as prefix:
        async with fresh_database(dsn) as database_url:
            print(json.dumps(await measure(redis_url, database_url, prefix, rounds, per_round), indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    run(main(args.rounds, args.per_round))
