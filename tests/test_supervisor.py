"""The supervisor: a background task that fails is started again, with a backoff that grows while it
keeps failing; /metrics counts the restarts and /readyz names a task that keeps failing. Time is
virtual here (an injected clock and sleep), so minutes of backoff take no time and nothing is timed."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from queue_server.config import Settings
from queue_server.supervisor import Backoff, Supervisor
from tests.support import AUTH, running_app


class VirtualTime:
    """A clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        await asyncio.sleep(0)


async def test_a_task_that_raises_is_started_again() -> None:
    vt = VirtualTime()
    work = Supervisor(clock=vt.clock, sleep=vt.sleep)
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) <= 2:
            raise RuntimeError("Redis away")
        await work.stop.wait()

    work.run("flaky", flaky)
    await until(lambda: len(runs) == 3)
    assert work.tasks["flaky"].restarts == 2
    assert work.down() == {}               # two failures: restarting, not yet "down"
    await work.close()
    assert len(runs) == 3                  # stopping is not a failure: nothing started again


async def test_a_task_that_returns_early_is_started_again() -> None:
    vt = VirtualTime()
    work = Supervisor(clock=vt.clock, sleep=vt.sleep)
    runs: list[int] = []

    async def quits() -> None:
        runs.append(1)
        if len(runs) == 1:
            return
        await work.stop.wait()

    work.run("quits", quits)
    await until(lambda: len(runs) == 2)
    assert work.tasks["quits"].last_error == "ended on its own"
    await work.close()


async def test_a_task_that_keeps_failing_backs_off_up_to_the_cap() -> None:
    """Over ten virtual minutes a task that fails at once is restarted a few dozen times, not once a
    second as the persister's loop did; each wait is within its jitter band of a doubling, capped."""
    vt = VirtualTime()
    backoff = Backoff(first_s=0.5, cap_s=10.0)
    work = Supervisor(backoff, clock=vt.clock, sleep=vt.sleep)

    async def broken() -> None:
        raise ValueError("always")

    work.run("broken", broken)
    await until(lambda: vt.now >= 600)
    restarts = work.tasks["broken"].restarts
    await work.close()
    assert restarts <= 600 / (backoff.cap_s / 2) + 10, restarts     # at most one per half cap, once capped
    assert restarts >= 600 / backoff.cap_s, restarts                 # and it does keep trying
    for n, slept in enumerate(vt.slept, start=1):
        base = min(backoff.cap_s, backoff.first_s * 2 ** (n - 1))
        assert base / 2 <= slept <= base, (n, slept)
    assert len(set(vt.slept)) > 1          # jittered: instances do not retry in step


async def test_a_streak_ends_once_the_task_has_run_long_enough() -> None:
    vt = VirtualTime()
    work = Supervisor(clock=vt.clock, sleep=vt.sleep, settle_s=10.0, down_after=3)
    runs: list[int] = []
    release = asyncio.Event()

    async def fails_three_times_then_later_once_more() -> None:
        runs.append(1)
        if len(runs) <= 3:
            raise OSError("PostgreSQL away")
        if len(runs) == 4:
            await release.wait()           # runs fine for a while, then fails once more
            raise OSError("PostgreSQL away again")
        await work.stop.wait()

    work.run("record", fails_three_times_then_later_once_more)
    await until(lambda: len(runs) == 4)
    assert set(work.down()) == {"record"} and "PostgreSQL away" in work.down()["record"]
    vt.now += 11                           # it has now run longer than settle_s
    assert work.down() == {}
    release.set()
    await until(lambda: len(runs) == 5)
    assert work.tasks["record"].failures == 1      # a new streak, not the fourth failure of the old one
    await work.close()


async def test_stopping_lets_a_consumer_finish_its_batch_and_cancels_the_rest() -> None:
    """A consumer between its read and its ack is let finish (nothing left pending); a task that does
    not watch ``stop`` is cancelled at once, and one that finishes too slowly once ``finish_s`` is up."""
    work = Supervisor(finish_s=0.5)
    batch, acked, slow_cancelled = asyncio.Event(), [], asyncio.Event()

    async def consumer() -> None:
        while not work.stop.is_set():
            await batch.wait()              # a batch taken: the stop arrives before it is acked
            await asyncio.sleep(0.05)       # recording it
            acked.append(1)

    async def sleeper() -> None:
        await asyncio.Event().wait()        # never ends by itself, and is not asked to

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()    # claims to finish, never does
        except asyncio.CancelledError:
            slow_cancelled.set()
            raise

    work.run("consumer", consumer, finishes=True)
    work.run("sleeper", sleeper)
    work.run("stuck", stuck, finishes=True)
    await asyncio.sleep(0)
    batch.set()
    await work.close()
    assert acked and all(s.task is not None and s.task.done() for s in work.tasks.values())
    assert not work.tasks["consumer"].task.cancelled()   # type: ignore[union-attr]
    assert work.tasks["sleeper"].task.cancelled() and slow_cancelled.is_set()   # type: ignore[union-attr]


async def test_readyz_names_a_failing_task_and_metrics_count_its_restarts(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        work: Supervisor = app.state.supervisor
        assert (await client.get("/readyz")).json()["checks"]["tasks"] == "ok"

        async def broken() -> None:
            raise RuntimeError("cannot reach the SMS gateway")

        work.backoff = Backoff(first_s=0.01, cap_s=0.05)
        work.run("sms-test", broken)
        await until(lambda: work.tasks["sms-test"].failures >= work.down_after)
        answer = await client.get("/readyz")
        assert answer.status_code == 503
        assert "cannot reach the SMS gateway" in answer.json()["checks"]["tasks"]["sms-test"]
        assert answer.json()["checks"]["redis"] == "ok"
        text = (await client.get("/metrics", headers=AUTH)).text
        line = next(x for x in text.splitlines() if x.startswith('background_task_restarts_total{task="sms-test"}'))
        assert float(line.split()[-1]) >= work.down_after
        assert 'background_task_restarts_total{task="persister"} 0.0' in text
