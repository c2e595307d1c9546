"""``python -m loadtests.baseline_pace``: the bare baseline's CPU per request, paced and flat out,
read from its server process while 32 connections ask at the rate given."""
from __future__ import annotations

from loadtests.baseline_pace import point
from loadtests.harness import server
from tests.support import Services


async def test_a_paced_point_asks_its_rate_and_a_flat_out_one_more(services: Services) -> None:
    prefix = f"t{services.run_id}pace"   # dropped with the session's keys
    with server(services.redis_url, services.admin_dsn, prefix, app="loadtests.baseline_app:create_app") as (url, proc):
        paced = await point(url, proc.pid, 200, 1.0)
        flat = await point(url, proc.pid, 0, 1.0)
    assert 150 <= paced["per_s"] <= 250 and paced["asked_per_s"] == 200
    assert flat["per_s"] > paced["per_s"] and flat["asked_per_s"] is None
    assert paced["server_cpu_us_per_request"] > 0 and flat["server_cpu_us_per_request"] > 0
