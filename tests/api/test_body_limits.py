"""A body or a websocket message over the limit is refused while it arrives, not read whole first:
the server's peak memory stays flat however much an anonymous client sends."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed

from queue_server.config import Settings
from tests.realtime.live import C, open_live
from tests.support import server_process

MiB = 1024 * 1024


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes: a spike shows even once freed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def fifty_mb() -> Iterator[bytes]:
    chunk = b"x" * (64 * 1024)
    for _ in range(50 * MiB // len(chunk)):
        yield chunk


def post_streamed(url: str, headers: dict[str, str]) -> int | None:
    """The status answered to a 50 MB body, or None when the server hung up while it was being sent."""
    try:
        return httpx.post(url, content=fifty_mb(), headers=headers, timeout=60).status_code
    except httpx.TransportError:
        return None


async def test_oversized_bodies_and_messages_are_refused_as_they_arrive(settings: Settings) -> None:
    with server_process(settings) as (url, proc):
        httpx.get(f"{url}/readyz", timeout=10)
        before = peak_rss(proc.pid)
        for headers in ({"content-type": "application/json"},                                     # chunked
                        {"content-type": "application/json", "content-length": str(50 * MiB)}):   # declared
            assert post_streamed(f"{url}/api/v1/reviews", headers) in (413, None), headers
        grown = peak_rss(proc.pid) - before
        assert grown < 16 * MiB, f"a 50 MB body was read whole: peak memory grew {grown / MiB:.0f} MiB"
        form = {"content-type": "application/x-www-form-urlencoded"}
        assert post_streamed(f"{url}/sms/twilio/inbound", form) in (413, None)
        small = httpx.post(f"{url}/api/v1/reviews", content=b"x" * (64 * 1024), timeout=10,
                           headers={"content-type": "application/json"})
        assert small.status_code == 413 and small.headers["content-type"] == "application/problem+json"
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        after_bodies = peak_rss(proc.pid)
        assert after_bodies - before < 16 * MiB, f"peak memory grew {(after_bodies - before) / MiB:.0f} MiB"

        ws = await open_live(url, f"/ws/centers/{C}/display")
        await ws.recv()
        try:
            await ws.send("x" * (15 * MiB))
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1009
        grown = peak_rss(proc.pid) - after_bodies
        assert grown < 8 * MiB, f"a 15 MiB frame was buffered: peak memory grew {grown / MiB:.0f} MiB"
