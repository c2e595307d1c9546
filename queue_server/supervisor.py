"""Background work that never dies: every task the app runs while it lives (the persister, the stream
reader, the consumers, the SMS sender, the pollers) is started here, and one that ends before the
app stops — by an exception, or by returning — is started again after a capped exponential backoff
with jitter. A failure is logged once per streak (the first, with its traceback), not once a
second; restarts are counted per task for ``/metrics``, and a task that keeps failing is named by
``/readyz``. When the app stops, a stream consumer is let finish the batch it took (record it, ack
it) rather than cancelled between the read and the ack, which would leave that batch pending on a
consumer that never comes back until another one takes it over."""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("queue_server.supervisor")


@dataclass(frozen=True)
class Backoff:
    """Delay before the n-th restart of a streak: ``first_s`` doubling up to ``cap_s``, each drawn
    between half and all of it (so the instances of a deployment do not all retry in step)."""
    first_s: float = 0.5
    cap_s: float = 10.0

    def delay(self, failures: int, draw: float) -> float:
        base = min(self.cap_s, self.first_s * 2 ** (failures - 1))
        return base * (0.5 + draw / 2)


@dataclass
class Supervised:
    """One task's record: its restarts, and the streak of failures it is in (if any)."""
    name: str
    run: Callable[[], Awaitable[object]]
    finishes: bool = False      # ends by itself soon after ``stop``: given ``finish_s`` before it is cancelled
    restarts: int = 0
    failures: int = 0           # in the current streak: failures not separated by ``settle_s`` of running
    running: bool = False
    started_at: float = 0.0
    last_error: str = ""
    task: asyncio.Task | None = field(default=None, repr=False)


class Supervisor:
    """Owns the app's background tasks from start to stop. ``stop`` is the event every task watches;
    ``close`` sets it, cancels what still runs and then runs the registered clean-ups. ``clock`` and
    ``sleep`` are injectable, so a test runs minutes of backoff at once."""

    def __init__(self, backoff: Backoff = Backoff(), clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep, draw: Callable[[], float] = random.random,
                 settle_s: float = 10.0, down_after: int = 3, finish_s: float = 5.0) -> None:
        self.stop = asyncio.Event()
        self.backoff, self.clock, self.sleep, self.draw = backoff, clock, sleep, draw
        self.settle_s = settle_s        # running this long without failing ends a streak
        self.down_after = down_after    # failures in one streak before /readyz calls the task down
        self.finish_s = finish_s        # how long ``close`` waits for the tasks that finish on their own
        self.tasks: dict[str, Supervised] = {}
        self._cleanups: list[Callable[[], Awaitable[object]]] = []

    def run(self, name: str, run: Callable[[], Awaitable[object]], finishes: bool = False) -> None:
        """Run ``run()`` until the app stops, starting it again whenever it ends early. ``finishes``: it
        returns by itself soon after ``stop`` is set (a consumer, once it has acked what it took), and
        ``close`` waits up to ``finish_s`` for that before cancelling it."""
        if name in self.tasks:
            raise ValueError(f"a task named {name!r} is already supervised")
        s = self.tasks[name] = Supervised(name, run, finishes)
        s.task = asyncio.create_task(self._keep(s), name=name)

    def at_close(self, cleanup: Callable[[], Awaitable[object]]) -> None:
        """Something to release once every task has ended (a task's own client, say), in reverse order."""
        self._cleanups.append(cleanup)

    def _settled(self, s: Supervised) -> bool:
        return s.running and self.clock() - s.started_at >= self.settle_s

    def down(self) -> dict[str, str]:
        """The tasks failing again and again (waiting to restart, or not yet running ``settle_s`` since)."""
        return {s.name: f"failing: {s.last_error} ({s.failures} failures in a row)"
                for s in self.tasks.values() if s.failures >= self.down_after and not self._settled(s)}

    async def close(self) -> None:
        self.stop.set()
        finishing = [s.task for s in self.tasks.values() if s.finishes and s.running and s.task is not None]
        if finishing:   # one waiting out a backoff has nothing in hand: it is cancelled with the rest
            _, late = await asyncio.wait(finishing, timeout=self.finish_s)
            for t in late:
                log.warning("background task %s did not finish within %.0f s of the stop: cancelled",
                            t.get_name(), self.finish_s)
        tasks = [s.task for s in self.tasks.values() if s.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for cleanup in reversed(self._cleanups):
            try:
                await cleanup()
            except Exception:  # noqa: BLE001 - one failed clean-up must not keep the others from running
                log.exception("clean-up after the background tasks failed")

    async def _keep(self, s: Supervised) -> None:
        while not self.stop.is_set():
            s.running, s.started_at = True, self.clock()
            error: BaseException | None = None
            try:
                await s.run()
                s.last_error = "ended on its own"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever it was, the task is started again
                s.last_error = f"{type(exc).__name__}: {exc}"
                error = exc
            finally:
                settled = self._settled(s)
                s.running = False
            if self.stop.is_set():
                return
            if settled:
                s.failures = 0          # it had been running fine: this failure starts a new streak
            s.failures += 1
            s.restarts += 1
            if s.failures == 1:
                log.error("background task %s failed (%s); restarting it, with backoff while it keeps failing",
                          s.name, s.last_error, exc_info=error)
            await self.sleep(self.backoff.delay(s.failures, self.draw()))
