"""Upload throughput of 1 MB scans: a real server process (local store on disk, a row per scan in
PostgreSQL, an event per scan on the center's stream) taking scans of a called ticket's items from
concurrent clients, against a bare Starlette endpoint that only reads the same bodies, in one run.

    python -m loadtests.materials_upload [--seconds 15] [--concurrency 8] [--size 1048576]

Every body is a distinct PNG (so each is stored, not deduplicated), made the same way for both. Prints JSON: uploads a second,
MB a second and latency percentiles of each, and the ratio of ours to the baseline."""
from __future__ import annotations

import argparse
import asyncio
import json
import struct
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable

import aiohttp

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, server, services

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
C = "jingansi"
POINT = f"{C}-sp1"


def scan(size: int) -> bytes:
    """A PNG of about ``size`` bytes: its signature and header, a padding chunk, a pixel."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    pad = chunk(b"tEXt", b"seed\0" + b"x" * max(0, size - 120))
    return head + pad + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")


def unique(template: bytes, i: int) -> bytes:
    """The template with ``i`` written into its padding: other bytes (a new file), at the cost of a copy.
    The padding chunk's CRC no longer matches, which no part of the upload checks."""
    body = bytearray(template)
    body[48:56] = i.to_bytes(8, "big")
    return bytes(body)


async def drive(seconds: float, concurrency: int, send: Callable[[int], Awaitable[None]]) -> dict:
    took: list[float] = []
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            await send(next(counter))
            took.append(time.perf_counter() - t0)

    started = time.monotonic()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed = time.monotonic() - started
    return {"uploads": len(took), "uploads_per_s": round(len(took) / elapsed, 1),
            "p50_ms": round(percentile(took, 50) * 1000, 1), "p99_ms": round(percentile(took, 99) * 1000, 1)}


async def called_ticket(http: aiohttp.ClientSession, url: str) -> tuple[str, dict[str, str]]:
    async with http.post(f"{url}/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH) as r:
        assert r.status == 200, await r.text()
    async with http.post(f"{url}/api/v1/tokens", json={"role": "assistant", "center": C, "point": "sp1"},
                         headers=AUTH) as r:
        assistant = {"Authorization": f"Bearer {(await r.json())['token']}"}
    async with http.post(f"{url}/api/v1/points/{POINT}/tickets", json={"matter": "tu-001"}, headers=assistant) as r:
        ticket = (await r.json())["id"]
    async with http.post(f"{url}/api/v1/centers/{C}/windows/r1/call-next", json={}, headers=AUTH) as r:
        assert r.status == 200, await r.text()
    return ticket, assistant


async def main(seconds: float, concurrency: int, size: int) -> None:
    template = scan(size)
    summary: dict = {"size_bytes": len(template), "concurrency": concurrency, "seconds": seconds}
    with services() as (redis_url, dsn), tempfile.TemporaryDirectory(prefix="scans-") as folder:
        async with fresh_database(dsn) as database_url:
            with key_prefix(redis_url, "bu") as prefix, server(redis_url, database_url, prefix,
                                                               app="loadtests.upload_baseline_app:create_app") as (url, _):
                async with aiohttp.ClientSession() as http:
                    async def bare(i: int) -> None:
                        async with http.post(f"{url}/upload", data=unique(template, i),
                                             headers={"Content-Type": "image/png"}) as r:
                            assert r.status == 201
                    summary["baseline"] = await drive(seconds, concurrency, bare)
            with key_prefix(redis_url, "mu") as prefix, server(redis_url, database_url, prefix,
                                                               extra_env={"QUEUE_MATERIALS_DIR": folder}) as (url, _):
                async with aiohttp.ClientSession() as http:
                    ticket, assistant = await called_ticket(http, url)
                    run_id = time.time_ns()

                    async def ours(i: int) -> None:
                        body = unique(template, run_id + i)      # never the same bytes twice: each one stored
                        async with http.post(f"{url}/api/v1/points/{POINT}/tickets/{ticket}/materials/{i % 3 + 1}",
                                             data=body, headers={**assistant, "Content-Type": "image/png"}) as r:
                            assert r.status == 201, await r.text()
                    summary["scans"] = await drive(seconds, concurrency, ours)
    for side in ("baseline", "scans"):
        summary[side]["mb_per_s"] = round(summary[side]["uploads_per_s"] * summary["size_bytes"] / 2**20, 1)
    summary["scans_vs_baseline"] = round(summary["scans"]["uploads_per_s"] / summary["baseline"]["uploads_per_s"], 3)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", type=int, default=1 << 20)
    args = parser.parse_args()
    run(main(args.seconds, args.concurrency, args.size))
