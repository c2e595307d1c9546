"""The evaluation as one app component: its routes and OpenAPI entries, and the background work it
runs in every instance — the served tickets and SMS prompts taken from each batch the record reads
(a follower of the record's consumer group), the SMS outbox sender, the periodic sweep that
escalates overdue rectification stages and marks unrated tickets, and the announcer of recorded
ratings."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from queue_server.api.endpoints import Doc
from queue_server.supervisor import Supervisor

from .api import api
from .config import EvalConfig
from .finished import FinishedTickets
from .rectification import escalate_overdue
from .service import Evaluation
from .sms import inbound
from .sms.outbox import Outbox
from .sms.twilio_client import TwilioSender
from .unrated import mark_unrated

log = logging.getLogger("evaluation")


async def sweep(ev: Evaluation) -> None:
    now = ev.clock.now_ms()
    await escalate_overdue(ev.pool, ev.redis, ev.keys, ev.settings.stream_maxlen, now)
    await mark_unrated(ev.pool, ev.cfg, now)


async def _every(seconds: float, stop: asyncio.Event, step: Callable[[], Awaitable[object]]) -> None:
    """``step`` once a period; a failing one ends the task, for the supervisor to start again."""
    while not stop.is_set():
        await step()
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass


class EvaluationComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*api.routes, Route(inbound.INBOUND, inbound.inbound, methods=["POST"]),
                                        Route(inbound.STATUS, inbound.status_callback, methods=["POST"])]
        self.docs: list[Doc] = [*api.docs,
                                Doc("POST", inbound.INBOUND, "Twilio inbound SMS webhook (form post, signed); TwiML reply",
                                    None, None, 200, False, "evaluation", {403: "bad X-Twilio-Signature"}),
                                Doc("POST", inbound.STATUS, "Twilio message status callback (form post, signed)",
                                    None, None, 204, False, "evaluation", {403: "bad X-Twilio-Signature"})]

    async def start(self, app: Starlette, work: Supervisor) -> None:
        state = app.state
        cfg = EvalConfig.from_settings(state.settings)
        ev = Evaluation(state.pool, state.redis, state.keys, state.engine, state.settings, cfg, state.clock, state.calendar)
        state.evaluation = ev
        if state.settings.tier == "all":   # only a process that both sees the finishes and takes the ratings
            state.realtime.hub.listeners.append(ev.recent.take)
        if state.settings.answers_api or state.settings.runs_background:   # whatever records a rating
            work.run("evaluation-announcer", ev.announcing)
            work.at_close(ev.announce_left)   # what the stop caught waiting (Redis is closed after this)
        if not state.settings.runs_background:   # the finishes, the sweep and the SMS outbox: background work
            return
        finished = FinishedTickets(state.pool, cfg, state.clock, state.personal, recent=ev.recent)
        state.record_followers.append(finished.take)

        async def retire_group() -> None:
            await finished.retire_group(state.redis, state.keys, list(ev.catalog.centers))
            await work.stop.wait()
        work.run("evaluation-retired-group", retire_group)
        work.run("evaluation-sweep", lambda: _every(cfg.tick_s, work.stop, lambda: sweep(ev)))
        if cfg.sms_enabled:
            sender = TwilioSender(cfg.twilio_account_sid, cfg.twilio_auth_token, cfg.twilio_from, cfg.twilio_api_base,
                                  state.settings.public_base_url.rstrip("/") + inbound.STATUS)
            outbox = Outbox(state.pool, state.redis, state.keys, cfg, state.clock, ev.catalog,
                            state.settings.public_base_url, sender, state.personal)
            state.sms_outbox = outbox
            work.at_close(sender.close)
            work.run("sms-outbox", lambda: outbox.run(work.stop))
        else:
            log.warning("TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_FROM not set: SMS prompts stay queued")


component = EvaluationComponent()
