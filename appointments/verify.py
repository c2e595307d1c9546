"""A booking's number is verified by the residents' one-time SMS code (residents/: the resident asks
``POST /api/v1/residents/codes`` for the slot's center, then books with the code). Using it up here
is one script (``resident_code_use``) with the same rules as the remote ticket's claim: the code is
bound to the number it was sent to, wrong attempts are limited (the last kills it), it expires, and
it works once."""
from __future__ import annotations

from starlette.requests import Request

from queue_server.api.problems import Problem
from queue_server.domain.catalog import Center
from queue_server.domain.residents import code_digest
from queue_server.engine.queue_engine import EngineError
from residents.identity import number_key


async def verify_number(request: Request, center: Center, phone: str, code: str) -> None:
    """Use up the code sent to ``phone`` for ``center``, or refuse (422, with attempts_left when wrong)."""
    state = request.app.state
    who = number_key(state, phone)
    try:
        await state.engine._run("resident_code_use", [state.keys.resident_code(center.code, who)],
                                [code_digest(who, code), state.residents.code_attempts, state.clock.now_ms()])
    except EngineError as exc:
        if exc.code not in ("code_invalid", "code_wrong", "code_dead"):
            raise
        raise Problem(422, "Invalid request", exc.message, code=exc.code,
                      errors=[{"field": "code", "message": exc.message}], **exc.fields) from None
