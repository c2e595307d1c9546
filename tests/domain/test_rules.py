from datetime import datetime, timezone

import pytest

from queue_server.domain.numbering import center_of, format_number, service_day, ticket_id
from queue_server.domain.policy import ratio_cycle, simulate
from queue_server.domain.routing import QueueRule, route
from queue_server.domain.tickets import mask_phone, public_ticket
from queue_server.domain.wait import estimate_wait_s


def ms(y: int, mo: int, d: int, h: int, mi: int) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=timezone.utc).timestamp() * 1000)


def test_service_day_turns_at_shanghai_midnight_not_utc() -> None:
    assert service_day(ms(2026, 11, 29, 15, 59)) == "20261129"  # 23:59 in Shanghai
    assert service_day(ms(2026, 11, 29, 16, 0)) == "20261130"   # 00:00 in Shanghai
    assert service_day(ms(2026, 11, 29, 23, 59)) == "20261130"  # UTC still says the 29th


def test_numbers_and_ids() -> None:
    assert format_number("A", 12) == "A012"
    assert format_number("A", 1000) == "A1000"
    tid = ticket_id("jingansi", "20261129", "A012")
    assert tid == "jingansi-20261129-A012" and center_of(tid) == "jingansi"


def test_ratio_cycle_puts_priority_first_but_never_starves_normal() -> None:
    cycle = ratio_cycle(2, 1)
    assert cycle == "PNN"
    assert simulate(cycle, 3, 6) == "PNNPNNPNN"
    assert simulate(cycle, 5, 2) == "PNNPPPP"
    assert simulate(cycle, 0, 3) == "NNN"
    with pytest.raises(ValueError):
        ratio_cycle(0, 1)


def test_routing_by_channel_then_matter_then_catch_all() -> None:
    queues = [QueueRule("comprehensive", "A", frozenset(), frozenset()),
              QueueRule("quick", "B", frozenset({"m-quick"}), frozenset()),
              QueueRule("appointment", "V", frozenset(), frozenset({"appointment"}))]
    assert route(queues, "m-quick", "kiosk").prefix == "B"
    assert route(queues, "m-quick", "appointment").prefix == "V"
    assert route(queues, "m-other", "kiosk").prefix == "A"
    assert route(queues[1:2], "m-other", "kiosk") is None


def test_wait_estimate() -> None:
    assert estimate_wait_s(0, 600, 2) == 0
    assert estimate_wait_s(4, 600, 2) == 1200
    assert estimate_wait_s(3, 300, 0) == 900  # no window open yet: assume one will


def test_phone_is_masked_everywhere_it_leaves() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "138****5678"
    out = public_ticket({"id": "x", "phone": "13812345678"})
    assert "phone" not in out and out["phone_masked"] == "138****5678"


def test_service_day_cache_follows_the_clock_both_ways() -> None:
    days = [service_day(ms(2026, 11, 29, h, 0)) for h in (10, 17, 3, 15, 16)]
    assert days == ["20261129", "20261130", "20261129", "20261129", "20261130"]
