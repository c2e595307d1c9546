"""What a resident's SMS reply means, given where the conversation about their latest prompt stands:
waiting for a level, waiting for the reason of a bad level, or done. Pure."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..levels import Reason, parse_reasons, review_level
from . import texts


@dataclass(frozen=True)
class Intent:
    kind: str  # opt_out | opt_in | rate | reasons | not_understood | done | nothing
    level: int | None = None
    reasons: list[Reason] = field(default_factory=list)
    comment: str = ""


def interpret(body: str, state: str | None) -> Intent:
    """``state`` is the latest prompt's conversation (level, reason, done) or None without a prompt."""
    word = texts.keyword(body)
    if word in texts.OPT_OUT:
        return Intent("opt_out")
    if word in texts.OPT_IN:
        return Intent("opt_in")
    if state is None:
        return Intent("nothing")
    if state == "reason":
        reasons, comment = parse_reasons(body)
        return Intent("reasons", reasons=reasons, comment=comment)
    if state == "done":
        return Intent("done")
    level = review_level(body)
    return Intent("rate", level=level) if level is not None else Intent("not_understood")
