"""The five review levels, the reason tags of a bad review, and reading them out of an SMS reply.
Pure rules: no I/O."""
from __future__ import annotations

import re
from enum import IntEnum, StrEnum


class Level(IntEnum):
    VERY_DISSATISFIED = 1
    DISSATISFIED = 2
    BASICALLY_SATISFIED = 3
    SATISFIED = 4
    VERY_SATISFIED = 5


LABELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Basically satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}


class Reason(StrEnum):
    EFFICIENCY = "efficiency"
    ATTITUDE = "attitude"
    PROFESSIONALISM = "professionalism"
    PROCESS = "process"
    ENVIRONMENT = "environment"
    OTHER = "other"


# In the order the SMS numbers them (1..6).
REASON_LABELS: dict[Reason, tuple[str, str]] = {
    Reason.EFFICIENCY: ("服务效率", "Service efficiency"),
    Reason.ATTITUDE: ("服务态度", "Attitude"),
    Reason.PROFESSIONALISM: ("业务水平", "Professional level"),
    Reason.PROCESS: ("办事流程/材料", "Process or materials"),
    Reason.ENVIRONMENT: ("服务环境", "Environment"),
    Reason.OTHER: ("其他", "Other"),
}

_REASON_WORDS: dict[str, Reason] = {
    "效率": Reason.EFFICIENCY, "慢": Reason.EFFICIENCY, "等": Reason.EFFICIENCY,
    "态度": Reason.ATTITUDE, "专业": Reason.PROFESSIONALISM, "业务": Reason.PROFESSIONALISM,
    "流程": Reason.PROCESS, "材料": Reason.PROCESS, "环境": Reason.ENVIRONMENT, "其他": Reason.OTHER,
    "efficiency": Reason.EFFICIENCY, "slow": Reason.EFFICIENCY, "attitude": Reason.ATTITUDE,
    "rude": Reason.ATTITUDE, "professional": Reason.PROFESSIONALISM, "process": Reason.PROCESS,
    "materials": Reason.PROCESS, "environment": Reason.ENVIRONMENT, "other": Reason.OTHER,
}

# Longest first, so 非常不满意 is not read as 不满意 or 满意.
_LEVEL_WORDS: list[tuple[str, int]] = sorted(
    [(zh, lvl) for lvl, (zh, _) in LABELS.items()]
    + [("很满意", 5), ("很不满意", 1), ("一般", 3), ("very satisfied", 5), ("very dissatisfied", 1),
       ("dissatisfied", 2), ("satisfied", 4)],
    key=lambda p: -len(p[0]))

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def is_bad(level: int) -> bool:
    """1 and 2 are bad reviews (差评); they need a reason and open a rectification case."""
    return level <= 2


def is_good(level: int) -> bool:
    """4 and 5 count towards the satisfaction rate (好评率)."""
    return level >= 4


def review_level(text: str) -> int | None:
    """The level a resident's SMS reply means: a lone digit 1-5 or a level word, else None."""
    t = text.strip().translate(_FULLWIDTH).lower()
    m = re.fullmatch(r"\s*([1-5])\s*[.。!！分]?\s*", t)
    if m:
        return int(m.group(1))
    for word, level in _LEVEL_WORDS:
        if word in t:
            return level
    return None


def parse_reasons(text: str) -> tuple[list[Reason], str]:
    """Reason tags from a reply to "why?": leading digits 1-6 pick tags by number, words pick tags by
    meaning, and the whole text is kept as the comment. Nothing recognised means "other"."""
    t = text.strip().translate(_FULLWIDTH)
    order = list(REASON_LABELS)
    found: list[Reason] = []
    lead = re.match(r"^[\s1-6,，、和]+", t)
    if lead:
        found += [order[int(d) - 1] for d in re.findall(r"[1-6]", lead.group(0))]
    low = t.lower()
    found += [r for word, r in _REASON_WORDS.items() if word in low]
    unique = list(dict.fromkeys(found)) or [Reason.OTHER]
    return unique, t[:500]


def label(level: int) -> str:
    zh, en = LABELS[level]
    return f"{zh} {en}"
