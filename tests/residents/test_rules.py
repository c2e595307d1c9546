"""The residents' pure rules: what a check-in names, which called tickets must be checked in, and which
events can bring a waiting ticket nearer its turn (after which the "turn is near" watch is looked at)."""
from __future__ import annotations

from queue_server.domain.residents import code_digest, needs_check_in, ticket_to_check_in
from queue_server.domain.tickets import EVENT_OF_ACTION, TRANSITIONS, Status
from residents.notices import brings_nearer

C, DAY = "jingansi", "20261130"


def test_a_check_in_names_a_ticket_by_number_id_or_status_link() -> None:
    tid = f"{C}-{DAY}-A005"
    for given in ("A005", "a5", " A5 ", tid, f"https://q.example/status/{tid}", f"https://q.example/status/{tid}#token=x",
                  f"/status/{tid}/"):
        assert ticket_to_check_in(C, DAY, given) == tid, given
    assert ticket_to_check_in(C, DAY, "B1234") == f"{C}-{DAY}-B1234"
    for given in ("", "5", "A", "A-5", f"caojiadu-{DAY}-A005", f"{C}-20261129-A005", "<script>", "AAAAA1"):
        assert ticket_to_check_in(C, DAY, given) is None, given


def test_only_remote_tickets_not_checked_in_lapse() -> None:
    assert needs_check_in({"channel": "remote"})
    assert not needs_check_in({"channel": "remote", "present_at": 1})
    assert not needs_check_in({"channel": "kiosk"})


def test_a_code_is_bound_to_its_number() -> None:
    assert code_digest("n1", "123456") != code_digest("n2", "123456")
    assert code_digest("n1", "123456") == code_digest("n1", "123456")


def test_only_a_ticket_leaving_or_rejoining_a_waiting_line_brings_others_nearer() -> None:
    assert brings_nearer("ticket.called", {})
    for action, (starts, _) in TRANSITIONS.items():
        for start in starts:
            nearer = start in (Status.WAITING, Status.PAUSED)
            assert brings_nearer(EVENT_OF_ACTION[action], {"from": str(start)}) == nearer, (action, start)
    for kind in ("ticket.issued", "ticket.recalled", "ticket.no_show", "ticket.present"):
        assert not brings_nearer(kind, {})
