"""One load run end to end (``loadtests/run PROFILE``): services, a fresh database with the profile's
slice of the city, a token for every device and clerk, then three Locust phases —

1. ``baseline``: closed-loop users against the bare Starlette + one Redis script endpoint;
2. ``capacity``: the same users and shape against our servers, a whole visit per cycle; then the
   baseline paced at our rate (``baseline-paced``: the judged ratio compares CPU per request at one
   rate) and the baseline again (``baseline-after``: both sets of servers up all along);
3. ``load``: every screen connected, kiosks, clerks, tablets, residents and SMS at the profile's rate
   (the screens and the desks as two Locust runs side by side: ``load_generators``) —

and ``summary.json`` with the verdict on the profile's targets (exit 1 when one is missed)."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

import psutil

from queue_server.config import ROUTES_BY_TIER, Settings
from queue_server.embedded import free_port
from queue_server.engine.connection import is_cluster
from queue_server.tiers import lower_priority

from .city import city_catalog, staff_of
from .cores import Cores, as_batch, neighbour, pin, taskset
from .engine_ops import session
from .harness import ADMIN_TOKEN, REDIS_KINDS, ROOT, fresh_database, key_prefix, server, services
from .plan import Plan, counts, matter_lines, people, rates, save_tokens
from .procstat import Sampler, Turns, children_by_parent, listener_pid, redis_pids, wait_for_quiet
from .server_metrics import Buckets, Histograms, loop_lag, scrape, scrape_stalls
from .server_metrics import window as server_window
from .pyspy import hottest, recording
from .redis_calls import sampling
from .profiles import ORDER, PROFILES, Profile
from .summary import QUEUE_OPS, capacity_ratios, closed_loop, episodes, judge, load_phase, rounds_pooled, window
from .sms_standin import PUBLIC_BASE_URL, running_standin

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
REDIS_GROUP = "redis (whole server)"   # every node of a cluster
AFTER = "baseline-after"               # the bare baseline again, once our capacity is measured
PACED = "baseline-paced"               # the bare baseline at our capacity phase's rate


def server_env(sms_env: dict[str, str]) -> dict[str, str]:
    """Production settings, except: SMS prompts go out 15 s after finishing (not five minutes; after the
    tablet's rating, so a resident never rates twice) to the run's Twilio stand-in, and the
    per-client limits are out of the way of one load generator."""
    return {**sms_env, "QUEUE_REVIEW_SMS_DELAY_S": "15", "QUEUE_SMS_POLL_S": "0.5", "PYTHONUNBUFFERED": "1"}


async def each(urls: list[str], jobs: list[tuple[str, dict]], concurrency: int = 64) -> int:
    """POST every (path, body) as the admin, spread over the servers; returns how many failed."""
    failed = 0
    queue = list(jobs)
    clients = [session(u, concurrency, AUTH) for u in urls]

    async def worker(n: int) -> None:
        nonlocal failed
        client = clients[n % len(clients)]
        while queue:
            path, body = queue.pop()
            async with client.post(path, json=body) as r:
                if r.status >= 300:
                    failed += 1
    try:
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    finally:
        for c in clients:
            await c.close()
    return failed


async def open_windows(urls: list[str], catalog: dict[str, Any]) -> None:
    jobs = [(f"/api/v1/centers/{w['center']}/windows/{w['code']}/open", {"staff_id": staff_of(w["center"], w["code"])})
            for w in catalog["windows"]]
    if await each(urls, jobs):
        raise RuntimeError("could not open every window")


async def close_visits(urls: list[str], plan: Plan) -> None:
    """End the visits the capacity phase left under way (a closed-loop user stopped between its call
    and its finish): the load phase's clerks find every window free, as at opening time."""
    async with session(urls[0], 16, AUTH) as client:
        async def snapshot(code: str) -> list[dict[str, Any]]:
            async with client.get(f"/api/v1/centers/{code}/queue") as r:
                return (await r.json())["tickets"] if r.status == 200 else []

        tickets = [t for found in await asyncio.gather(*(snapshot(c["code"]) for c in plan.centers)) for t in found]
    jobs = [(f"/api/v1/tickets/{t['id']}/{'no-show' if t['status'] == 'called' else 'finish'}", {})
            for t in tickets if t.get("status") in ("called", "serving")]
    print(f"[capacity] {len(jobs)} visit(s) left under way, ended", flush=True)
    if await each(urls, jobs):
        raise RuntimeError("could not end the capacity phase's visits")


async def prefill(urls: list[str], plan: Plan, per_window: int) -> None:
    """The morning queue: tickets already waiting at every line when the measured load begins."""
    lines = plan.matters
    jobs = []
    for c in plan.centers:
        for n in range(per_window * 16):
            jobs.append((f"/api/v1/centers/{c['code']}/tickets", {"matter": random.choice(lines["comprehensive"])}))
        for n in range(per_window * 4 if c["points"] else 0):
            jobs.append((f"/api/v1/centers/{c['code']}/tickets",
                         {"matter": random.choice(lines["remote"]), "channel": "service_point",
                          "service_point": random.choice(c["points"])}))
    random.shuffle(jobs)
    if await each(urls, jobs):
        raise RuntimeError("could not prefill the queues")


def locust(out: Path, phase: str, classes: list[str], users: int, spawn_rate: float, settle_s: float,
           measure_s: float, workers: int, servers: list[str], sampler: Sampler, cores: Cores | None = None,
           part: str = "", phase_users: int | None = None, pace_per_s: float = 0.0, batch: bool = False) -> int:
    """One headless Locust run; its master ends it once the measured window is over. ``part``
    ``desks``: the desks' run beside the screens' one, following its window (locustfile.py), lasting
    as long as a run of all ``phase_users`` may. ``pace_per_s``: the bare baseline's users together
    send that many requests a second instead of each one as soon as the last was answered.
    ``batch``: its master and workers run as ``SCHED_BATCH`` (``cores.as_batch``)."""
    stem = f"{phase}-{part}" if part else phase
    env = {**os.environ, "LOAD_PLAN": str(out / "plan.json"), "LOAD_PHASE": phase, "LOAD_PART": part,
           "LOAD_SERVERS": ",".join(servers), "LOAD_SETTLE_S": str(settle_s), "LOAD_MEASURE_S": str(measure_s),
           "PYTHONPATH": str(ROOT), "LOAD_PACE_PER_S": str(pace_per_s)}
    span = phase_users or users
    bound = int(span / spawn_rate + max(60, span / 50) + settle_s + measure_s + 120)   # see wait_for_sockets
    port = free_port()   # not Locust's default 5557: another run on the machine may hold it
    cmd = [*(taskset(cores.generators) if cores else []), *(as_batch() if batch else []), sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
           "--processes", str(workers), "--master-bind-port", str(port), "--master-port", str(port), "-u", str(users), "-r", str(spawn_rate), "-t", f"{bound}s",
           "--stop-timeout", "5", "--csv", str(out / stem), "--html", str(out / f"{stem}.html"),
           "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
           *classes]
    print(f"[{stem}] locust: {users} users ({', '.join(classes)}), {workers} worker(s), "
          f"window {measure_s:.0f} s after {settle_s:.0f} s settling", flush=True)
    with (out / f"{stem}.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        sampler.watch(f"load generators ({phase})", proc.pid)
        if part:   # and apart: is one part short of a core?
            sampler.watch(f"load generators ({stem})", proc.pid)
        code = wait_with_children(proc)
    if code != 0 or not (out / f"{stem}.json").exists():
        raise RuntimeError(f"locust failed in the {stem} phase (exit {code}); see {out / stem}.log")
    return code


def load_generators(out: Path, profile: Profile, classes: list[str], urls: list[str], sampler: Sampler,
                    settle_s: float, cores: Cores | None, screens_batch: bool = True) -> None:
    """The load phase's users as two Locust runs side by side: the screens in the profile's workers,
    the kiosks, clerks, residents and SMS senders in a process of their own. Under one roof, a call
    reached the hundreds of screens of its center in the same process as the clerk who made it, and
    the clerk's answer waited behind their frames (half: call-next p99 62 ms at the client, <= 10 ms
    in the server); a clerk's PC holds no hall displays.
    ``screens_batch``: the screens' run as ``SCHED_BATCH``. The city's 25,069 screens are woken by
    7,500 frames a second, and each wakeup may take the core from whoever runs — an api process in
    the middle of a request, Redis, the desks' generator timing a clerk — as no screen on its own
    hardware does. As batch processes they wait for the running one's turn to end, their share of the cores
    unchanged; a frame's arrival is timed when they read it, so call→screen counts their wait."""
    n = counts(profile)
    desks = [c for c in classes if c != "Screen"]
    desk_users = sum(n[k] for k in ("kiosks", "clerks", "residents")) + (n["sms"] if "Sms" in desks else 0)
    total = n["screens"] + desk_users
    parts = [("", ["Screen"], n["screens"], profile.workers, screens_batch), ("desks", desks, desk_users, 1, False)]
    with ThreadPoolExecutor(len(parts)) as pool:
        done = [pool.submit(locust, out, "load", cls, users, profile.spawn_rate, settle_s, profile.measure_s, workers,
                            urls, sampler, cores, part, total, batch=batch) for part, cls, users, workers, batch in parts]
        for d in done:
            d.result()


def wait_with_children(proc: subprocess.Popen) -> int:
    """Locust's master can exit before its forked workers have written their tallies: wait for both.
    Its workers are forked as it starts: looked for every half second over its first ten, then every
    five (each look is a pass over every process of the machine, on the cores the run measures)."""
    children: dict[int, psutil.Process] = {}
    started = time.monotonic()
    while True:
        with contextlib.suppress(psutil.Error):
            children.update({pid: psutil.Process(pid) for pid in children_by_parent().get(proc.pid, [])})
        try:
            proc.wait(0.5 if time.monotonic() - started < 10 else 5.0)
            break
        except subprocess.TimeoutExpired:
            continue
    _, alive = psutil.wait_procs(list(children.values()), timeout=60)
    for c in alive:
        with contextlib.suppress(psutil.Error):
            c.kill()
    return proc.returncode


def scraped_window(span: dict[str, float], scraped_from: float, scraped_to: float) -> dict[str, float]:
    """When the two scrapes that bound the servers' own figures were taken, in seconds after the
    measured window's start, and the window's length: a server too busy to answer its ``/metrics``
    in time is scraped again a second later, so an overloaded run's figures may cover only a part
    of the window (the city on a slow machine: 1 s of its 60), and say so here."""
    return {"from_s": round(scraped_from - span["start"], 1), "to_s": round(scraped_to - span["start"], 1),
            "window_s": round(span["end"] - span["start"], 1)}


def poll_realtime(urls: list[str], live: list[str], stop: threading.Event, seen: dict[str, Any], out: Path) -> None:
    """What the servers say while the load runs: their sockets, the persister's lag over the measured
    window (its largest and its last reading), and their own request latencies and event-loop lag
    over the window (scraped when it begins and when it ends). ``live``: the servers holding sockets."""
    import httpx

    marks = out / "window-load.json"
    loops = {"loop_lag": urls, **({"loop_lag_sockets": live} if set(live) != set(urls) else {})}   # by tier
    tick = 0
    at_start: tuple[Buckets, dict[str, Histograms], float] | None = None   # the servers' figures as the window began
    with httpx.Client(timeout=2, headers=AUTH) as client:   # one: each httpx.get makes a client, TLS context and all
        while not stop.wait(1.0):
            tick += 1
            span = json.loads(marks.read_text()) if marks.exists() else {}
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if "start" in span and at_start is None:   # both scrapes or neither: one may time out
                    at_start = (scrape(client, urls), {k: scrape_stalls(client, us) for k, us in loops.items()}, time.time())
                if "end" in span and at_start is not None and "latency_by_route" not in seen:
                    routes = server_window(at_start[0], scrape(client, urls))
                    stalls = {k: loop_lag(at_start[1][k], scrape_stalls(client, us)) for k, us in loops.items()}
                    seen.update({"latency_by_route": routes, **stalls,
                                 "scraped_window": scraped_window(span, at_start[2], time.time())})
            if tick % 5:   # the servers' own reports cost them work: every 5 s is enough
                continue
            sockets = lag = dropped = 0
            for u in live:
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    rt = client.get(f"{u}/api/v1/ops/realtime").json()
                    sockets += sum(rt["sockets"].values())
                    dropped += rt["dropped"]
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                centers = client.get(f"{urls[0]}/api/v1/ops/persister").json()["centers"]
                lag = max((c["lag_ms"] for c in centers.values()), default=0)
            seen["sockets_peak"] = max(seen.get("sockets_peak", 0), sockets)
            seen["sockets_last"] = sockets
            seen["sockets_dropped_by_servers"] = dropped
            if "start" in span and "end" not in span:   # the backlog of the prefill and the opening is not the window's
                seen["persister_lag_ms_max"] = max(seen.get("persister_lag_ms_max", 0), lag)
                seen["persister_lag_ms_last"] = lag


async def run(profile: Profile, out: Path, py_spy: bool = False, redis_kind: str = "single",
              cores: Cores | None = None, screens_batch: bool = True,
              neighbour_ms: tuple[float, float] | None = None, redis_calls: bool = False) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "profile": profile.name, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version(), "python_executable": os.path.realpath(sys.executable),
                    "pinned": cores.as_dict() if cores else None,
                    "screens_scheduling": "batch" if screens_batch else "normal",
                    "neighbour_ms": list(neighbour_ms) if neighbour_ms else None},
        "model": {"centers": profile.size.centers, "service_points": profile.size.points, "screens": profile.screens,
                  "queue_ops_per_s": profile.ops_per_s, "visits_per_s": round(profile.visits_per_s, 1),
                  "server_processes": profile.servers, "locust_workers": profile.workers,
                  **({"tiers": dict(zip(("http", "sockets", "background"), profile.tiers))} if profile.tiers else {}),
                  "users": {k: v for k, v in counts(profile).items()}},
    }
    sampler = Sampler()
    embedded = {"redis": not os.environ.get("REDIS_URL"), "postgresql": not os.environ.get("DATABASE_URL")}
    if cores:   # the runner with the generators; what it starts below is moved where it belongs
        os.sched_setaffinity(0, cores.generators)
    with services(redis_kind) as (redis_url, dsn), sampler:
        summary["machine"]["redis"] = "cluster" if is_cluster(redis_url) else "single"
        if redis_calls and is_cluster(redis_url):
            print("note: --redis-calls reads one Redis's slow log: not taken on this cluster", flush=True)
            redis_calls = False
        if cores:
            summary["machine"]["pinned"]["services"] = [k for k, started in embedded.items() if started]
            for pid in (redis_pids(redis_url) if embedded["redis"] else []) + \
                    ([listener_pid(dsn, 5432)] if embedded["postgresql"] else []):
                if pid:
                    pin(pid, cores.servers)
        catalog = city_catalog(profile.size)
        (out / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
        sampler.watch(REDIS_GROUP, *redis_pids(redis_url))
        sampler.watch_redis(redis_url)
        async with fresh_database(dsn, out / "catalog.json") as db:
            sampler.watch("postgresql (this run's backends)", listener_pid(dsn, 5432), only=urlsplit(db).path[1:])
            devices, clerks, kiosks, rows = people(catalog)
            await save_tokens(db, rows)
            points: dict[str, list[str]] = {}
            for p in catalog["service_points"]:
                points.setdefault(p["center"], []).append(p["code"])
            with running_standin() as (standin, standin_url, sms_env), key_prefix(redis_url, "loadrun") as run_keys:
                plan = Plan(profile.name, [], str(out), profile.workers,
                            [{"code": c["code"], "points": points.get(c["code"], [])} for c in catalog["centers"]],
                            devices, clerks, kiosks, matter_lines(catalog), rates(profile), counts(profile),
                            slots={"redis_url": redis_url, "key": f"{run_keys}:slots"},
                            sms={"public_base_url": PUBLIC_BASE_URL, "auth_token": sms_env["TWILIO_AUTH_TOKEN"],
                                 "standin_url": standin_url, "from": sms_env["TWILIO_FROM"]})
                plan.write(out / "plan.json")
                summary.update(await phases(profile, out, plan, redis_url, db, sms_env, sampler, py_spy, cores,
                                             screens_batch, neighbour_ms, redis_calls))
    summary["machine"]["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    summary["targets"] = judge(profile, summary)
    summary["met"] = all(t["met"] for t in summary["targets"])
    return summary


def settle(phase: str) -> dict[str, float | bool]:
    """Let the machine settle before a phase (``procstat.wait_for_quiet``), saying how long it took."""
    settled = wait_for_quiet()
    print(f"[{phase}] machine {'quiet' if settled['quiet'] else 'still busy'} after {settled['waited_s']:.0f} s "
          f"({settled['busy_pct']:.0f} % of a core busy)", flush=True)
    return settled


def tail(out: Path, turns: Turns) -> dict[str, Any]:
    """The load phase's slowest operations by episode (summary.episodes), each with what every group of
    processes did in it against the whole window — on a core, or ready and waiting for one — and where
    the cores' time went."""
    span = window(out, "load")
    found = episodes(out, "load", span) if span else {}
    for e in found.get("largest", []):
        start, end = e.pop("from"), e.pop("to")
        e["turns"], e["cores"] = turns.between(start, end), turns.cores_between(start, end)
    if found:
        found["turns_over_window"], found["cores_over_window"] = turns.between(*span), turns.cores_between(*span)
    return found


def tiers_of(profile: Profile) -> list[str]:
    """The QUEUE_TIER of each server process of the capacity and load phases: with background processes
    the API's are of the api tier (the same routes as http, none of the background work)."""
    if profile.tiers is None:
        return ["all"] * profile.servers
    http, sockets, background = (*profile.tiers, 0)[:3]
    return ["api" if background else "http"] * http + ["sockets"] * sockets + ["background"] * background


def neighbour_arg(value: str) -> tuple[float, float]:
    """``BUSY:PERIOD`` in milliseconds, busy above 0 and below the period: ``3:10``."""
    try:
        busy, period = (float(n) for n in value.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError("want BUSY:PERIOD in milliseconds, say 3:10") from None
    if not 0 < busy < period:
        raise argparse.ArgumentTypeError("busy must be above 0 and below the period, say 3:10")
    return busy, period


def tiers_arg(value: str) -> tuple[int, ...]:
    """``H:S`` or ``H:S:B``: H http (api) and S sockets processes, one or more of each, and B background."""
    try:
        counts = tuple(int(n) for n in value.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError("want H:S or H:S:B, say 1:1") from None
    if len(counts) not in (2, 3) or min(counts[:2]) < 1 or min(counts) < 0:
        raise argparse.ArgumentTypeError("want at least one http and one sockets process, and B ≥ 0")
    return counts


async def phases(profile: Profile, out: Path, plan: Plan, redis_url: str, db: str, sms_env: dict[str, str],
                 sampler: Sampler, py_spy: bool, cores: Cores | None = None,
                 screens_batch: bool = True, neighbour_ms: tuple[float, float] | None = None,
                 redis_calls: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {}
    users, cap_s = profile.capacity_users, profile.capacity_s
    with contextlib.ExitStack() as stack, contextlib.ExitStack() as baseline:
        prefix = baseline.enter_context(key_prefix(redis_url, "base"))
        bare = [baseline.enter_context(server(redis_url, db, prefix, app="loadtests.baseline_app:create_app"))
                for _ in range(profile.servers)]
        bare_urls = [u for u, _ in bare]
        sampler.watch("baseline servers", *(p.pid for _, p in bare))
        for _, p in bare if cores else []:
            pin(p.pid, cores.servers)
        prefix = stack.enter_context(key_prefix(redis_url, "load"))
        tiers = tiers_of(profile)
        procs = [stack.enter_context(server(redis_url, db, prefix, extra_env={**server_env(sms_env), "QUEUE_TIER": t}))
                 for t in tiers]
        urls = [u for t, (u, _) in zip(tiers, procs) if "http" in ROUTES_BY_TIER[t]]
        live = [u for t, (u, _) in zip(tiers, procs) if "sockets" in ROUTES_BY_TIER[t]]
        sampler.watch("servers", *(p.pid for _, p in procs))
        for tier in sorted(set(tiers) - {"all"}):
            sampler.watch(f"servers ({tier})", *(p.pid for t, (_, p) in zip(tiers, procs) if t == tier))
        configured = Settings.from_env()
        for t, (_, p) in zip(tiers, procs):   # as `queue-server serve --tier background|sockets` lowers itself
            lower_priority(t, configured.background_nice, configured.sockets_nice, p.pid)
        for _, p in procs if cores else []:
            pin(p.pid, cores.servers)
        plan.servers, plan.socket_servers = urls, live
        plan.write(out / "plan.json")
        await open_windows(urls, json.loads((out / "catalog.json").read_text()))
        pids = [p.pid for _, p in procs]
        # The bare baseline before and after our capacity, both servers up all along: the machine's
        # speed drifts by a third within minutes, and a ratio to one baseline 10 s long moved with it
        settled = settle("baseline")
        locust(out, "baseline", ["Baseline"], users, users, 2, cap_s, profile.workers, bare_urls, sampler, cores)
        result["baseline"] = {**closed_loop(out, "baseline", ("baseline op",)), "settled": settled}
        capacity, paced, spied = [], [], []
        for n in range(1, profile.capacity_rounds + 1):   # ours, then the baseline at our rate, in turn
            ours, bare_at_ours = ("capacity", PACED) if n == 1 else (f"capacity-{n}", f"{PACED}-{n}")
            with recording(out, ours, pids, py_spy) as files:
                locust(out, ours, ["Capacity"], users, users, 2, cap_s, profile.workers, urls, sampler, cores)
            spied += files
            capacity.append((ours, closed_loop(out, ours, QUEUE_OPS)))
            await close_visits(urls, plan)
            if rate := capacity[-1][1]["per_s"]:   # our rate, asked of the bare baseline: its CPU per request at it
                locust(out, bare_at_ours, ["Baseline"], users, users, 2, cap_s, profile.workers, bare_urls, sampler,
                       cores, pace_per_s=rate)
                paced.append((bare_at_ours, closed_loop(out, bare_at_ours, ("baseline op",))))
        locust(out, AFTER, ["Baseline"], users, users, 2, cap_s, profile.workers, bare_urls, sampler, cores)
        result["baseline"]["after"] = closed_loop(out, AFTER, ("baseline op",))
        baseline.close()

        await prefill(urls, plan, profile.prefill_per_window)
        classes = ["Screen", "Kiosk", "Clerk", "Resident"] + (["Sms"] if profile.sms_users else [])
        seen: dict[str, Any] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=poll_realtime, args=(urls, live, stop, seen, out), daemon=True)
        watcher.start()
        settled = settle("load")
        turns = Turns(sampler)
        with recording(out, "load", pids, py_spy) as files, \
                sampling(out, "load", redis_url, profile.measure_s, redis_calls) as redis_by_call, \
                neighbour(*neighbour_ms) if neighbour_ms else contextlib.nullcontext(), turns:
            load_generators(out, profile, classes, urls, sampler, 5.0, cores, screens_batch)
        stop.set()
        watcher.join()
        seen.pop("at_start", None)
        seen.pop("stalls_at_start", None)
        result["load"] = {**load_phase(out, profile), "settled": settled, "tail": tail(out, turns)}
        if files:
            result["load"]["hottest"] = hottest(files)
        if redis_calls:
            result["load"]["redis_by_call"] = redis_by_call
        result["load"]["servers_report"] = seen
    bare_phases = [("baseline", result["baseline"]), (AFTER, result["baseline"]["after"]), *paced]
    for phase, part in (*bare_phases, *capacity, ("load", result["load"])):
        span = window(out, phase)
        is_bare = phase in {name for name, _ in bare_phases}
        if span:
            procs = {k: v for k, v in sampler.window(*span).items()
                     if (not k.startswith("load generators (") or k.endswith((f"({phase})", f"({phase}-desks)")))
                     and (k != "baseline servers" or is_bare) and (not k.startswith("servers") or not is_bare)}
            part["processes"] = procs
            part["cores"] = sampler.machine(*span)
            ops = part.get("count") or part.get("queue_operations", {}).get("count")
            cpu = procs.get("baseline servers" if is_bare else "servers")
            if cpu:   # how busy each server process was: a closed loop measures capacity only at saturation
                n = profile.servers if is_bare else len(tiers_of(profile))
                part["server_busy_pct"] = round(cpu["cpu_pct"] / n, 1)
            if ops and cpu:   # CPU of the servers per operation: the figure optimisations move
                part["server_cpu_ms_per_op"] = round(cpu["cpu_pct"] * 10 * (span[1] - span[0]) / ops, 3)
                # and their system calls per operation, which the machine's speed that day does not move
                part["server_syscalls_per_op"] = round(cpu["syscalls_per_s"] * (span[1] - span[0]) / ops, 1)
                # and the times they were put on a core per operation: wakeups, each a switch's cost
                part["server_runs_per_op"] = round(cpu["runs_per_s"] * (span[1] - span[0]) / ops, 2)
            if ops and REDIS_GROUP in procs:   # Redis's share, for sizing its masters (shared: an upper bound)
                part["redis_cpu_ms_per_op"] = round(procs[REDIS_GROUP]["cpu_pct"] * 10 * (span[1] - span[0]) / ops, 3)
            calls = sampler.commands_per_s(*span)
            if ops and calls:   # the round trips behind each operation, whatever the machine's speed that day
                per_op = {c: round(n * (span[1] - span[0]) / ops, 2) for c, n in calls.items()}
                part["redis_calls_per_op"] = {c: n for c, n in per_op.items() if n >= 0.01}
            spent = sampler.command_ms_per_s(*span)
            if spent:   # where Redis's time went: the scripts, the streams' reads, the rest
                part["redis_ms_per_s"] = {c: round(ms, 1) for c, ms in spent.items() if ms >= 0.1}
    if paced:
        result["baseline"]["paced"] = rounds_pooled(out, paced, ("baseline op",))
    result["capacity"] = rounds_pooled(out, capacity, QUEUE_OPS)
    if spied:
        result["capacity"]["hottest"] = hottest(spied)
    result["capacity"].update(capacity_ratios(result["baseline"], result["capacity"]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="loadtests/run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=ORDER)
    parser.add_argument("--out", type=Path, help="folder for the results (default loadtests/results/PROFILE-TIME)")
    parser.add_argument("--measure", type=int, help="seconds of the measured load window (default: the profile's)")
    parser.add_argument("--servers", type=int, help="server processes (default: the profile's)")
    parser.add_argument("--workers", type=int, help="Locust worker processes (default: the profile's)")
    parser.add_argument("--tiers", type=tiers_arg, metavar="H:S[:B]",
                        help="H http and S sockets server processes (QUEUE_TIER) instead of --servers of both,"
                             " and B background ones (the H then of the api tier); the baseline then runs H")
    parser.add_argument("--py-spy", action="store_true", help="profile the servers in the capacity and load phases")
    parser.add_argument("--redis", choices=REDIS_KINDS, default="single",
                        help="the embedded Redis to start when REDIS_URL is not set: one server, or a 3-master cluster")
    parser.add_argument("--cluster", dest="redis", action="store_const", const="cluster", help="same as --redis cluster")
    parser.add_argument("--pin", nargs="?", const="auto", metavar="SERVERS:GENERATORS",
                        help="servers (and the Redis/PostgreSQL the run starts) on some cores, the load generators on"
                             " the others: taskset lists such as 0:1; alone, half the cores each")
    parser.add_argument("--screens-scheduling", choices=("batch", "normal"), default="batch",
                        help="the screens' generators as SCHED_BATCH (default: no screen's frame takes a core from"
                             " a server or the desks' generator) or as every other process")
    parser.add_argument("--neighbour", type=neighbour_arg, metavar="BUSY:PERIOD",
                        help="another tenant in the load phase, busy BUSY ms of every PERIOD ms (3:10: a slow day's"
                             " cores on a quiet machine)")
    parser.add_argument("--redis-calls", action="store_true",
                        help="Redis's time by script and command over a few seconds of the load window (its slow log"
                             " on for every command: a diagnosis, its figures read high)")
    a = parser.parse_args()
    try:
        cores = Cores.parse(a.pin) if a.pin else None
    except ValueError as exc:
        parser.error(str(exc))
    profile = PROFILES[a.profile]
    changes = {k: v for k, v in {"measure_s": a.measure, "servers": a.servers, "workers": a.workers,
                                 "tiers": a.tiers, **({"servers": a.tiers[0]} if a.tiers else {})}.items() if v}
    profile = dataclasses.replace(profile, **changes)
    if a.servers and not a.tiers:   # N processes of every tier, whatever the profile's tiers
        profile = dataclasses.replace(profile, tiers=None)
    out = a.out or ROOT / "loadtests" / "results" / f"{profile.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    screens_batch = a.screens_scheduling == "batch"
    if screens_batch and not shutil.which(as_batch()[0]):
        print("note: no chrt (util-linux) here: the screens' generators run as every other process", flush=True)
        screens_batch = False
    summary = asyncio.run(run(profile, out, a.py_spy, a.redis, cores, screens_batch, a.neighbour, a.redis_calls))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    for t in summary["targets"]:
        print(f"{'ok  ' if t['met'] else 'MISS'} {t['target']}: {t['got']} (want {t['want']})")
    report = summary.get("load", {}).get("servers_report")
    scraped = (report or {}).get("scraped_window")
    if report is not None and scraped is None:
        print("note: the servers' own figures (latency_by_route, loop_lag) are missing: their /metrics did not answer")
    elif scraped and scraped["to_s"] - scraped["from_s"] < 0.9 * scraped["window_s"]:
        print(f"note: the servers' own figures (latency_by_route, loop_lag) cover {scraped['from_s']}-{scraped['to_s']} s"
              f" of the {scraped['window_s']} s window: their /metrics did not answer in time")
    if tail_found := summary.get("load", {}).get("tail"):
        print(f"tail: the slowest {tail_found['slow']} operations (>= {tail_found['threshold_ms']} ms) in"
              f" {tail_found['episodes']} episodes, {tail_found['largest_5_share']:.0%} of them in the 5 largest")
        for e in tail_found["largest"][:3]:
            cores = e["cores"]
            print(f"  at {e['at_s']} s for {e['lasting_s']} s: {e['slow']} slow, the cores busy"
                  f" {cores.get('busy_ms_per_s')} ms a second, {cores.get('outside_ms_per_s')} of it outside the run's"
                  f" groups ({cores.get('interrupts_ms_per_s')} in interrupts) {cores.get('outside_by_program', {})}")
    print(f"summary: {out / 'summary.json'}")
    sys.exit(0 if summary["met"] else 1)


if __name__ == "__main__":
    main()
