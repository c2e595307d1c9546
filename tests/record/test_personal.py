"""The personal-data module: sealed values open only under their key and say when altered, equal
values seal differently but look up alike however they are written, and only masked forms are shown."""
from __future__ import annotations

import base64
import logging
import os
from dataclasses import replace

import pytest

from queue_server.app import create_app
from queue_server.config import Settings
from queue_server.record.personal import DEMO_KEY, PersonalData, canonical, mask, parse_key


def _key() -> bytes:
    return os.urandom(32)


def test_seal_opens_to_the_value_and_never_holds_it() -> None:
    personal = PersonalData(_key())
    a, b = personal.seal("13812345678"), personal.seal("13812345678")
    assert a != b                                   # a fresh nonce each time: equal numbers do not match
    assert b"13812345678" not in a and b"5678" not in a
    assert personal.open(a) == personal.open(b) == "13812345678"
    assert personal.seal(None) is None and personal.open(None) is None


def test_an_altered_or_foreign_value_is_refused() -> None:
    personal = PersonalData(_key())
    sealed = bytearray(personal.seal("13812345678") or b"")
    sealed[-1] ^= 1
    with pytest.raises(ValueError, match="integrity"):
        personal.open(bytes(sealed))
    with pytest.raises(ValueError, match="unknown key"):
        PersonalData(_key()).open(personal.seal("13812345678"))


def test_a_rotated_key_still_opens_what_the_old_one_sealed() -> None:
    old, new = _key(), _key()
    before = PersonalData(old).seal("13812345678")
    rotated = PersonalData(new, [old])
    assert rotated.open(before) == "13812345678"
    assert not rotated.is_current(before or b"") and rotated.is_current(rotated.seal("x") or b"")


def test_lookup_is_keyed_and_one_number_however_written() -> None:
    key = _key()
    personal = PersonalData(key)
    spellings = ["13812345678", "+8613812345678", "+86 138-1234-5678", "86 138 1234 5678"]
    assert len({personal.lookup(s) for s in spellings}) == 1
    assert personal.lookup("13812345678") != personal.lookup("13812345679")
    assert PersonalData(_key()).lookup("13812345678") != personal.lookup("13812345678")
    assert len(personal.lookup("13812345678") or b"") == 32
    assert personal.lookup("31010619900101123x") == personal.lookup("310106 19900101 123X")
    assert canonical("+86 138-1234-5678") == "13812345678"


def test_mask_is_the_only_form_shown() -> None:
    assert mask("13812345678") == mask("+8613812345678") == "138****5678"
    assert mask("31010619900101123X") == "310***********123X"
    assert mask(None) is None and mask("") is None


def test_keys_must_be_32_bytes_of_base64() -> None:
    assert len(parse_key(DEMO_KEY)) == 32
    with pytest.raises(ValueError, match="base64"):
        parse_key("not base64!")
    with pytest.raises(ValueError, match="32 bytes"):
        parse_key(base64.b64encode(b"short").decode())


def test_a_malformed_key_stops_the_server_and_a_missing_one_is_warned(settings: Settings,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError):
        create_app(replace(settings, personal_data_key="c2hvcnQ="))
    with caplog.at_level(logging.WARNING, logger="queue_server.personal"):
        create_app(replace(settings, personal_data_key=None))
    assert "QUEUE_PERSONAL_DATA_KEY is not set" in caplog.text


def test_a_handle_names_a_number_without_giving_it_away() -> None:
    personal = PersonalData(_key())
    assert personal.handle("13812345678") == personal.handle("+86 138 1234 5678") != personal.handle("13812345679")
    assert len(personal.handle("13812345678")) == 16
    assert PersonalData(_key()).handle("13812345678") != personal.handle("13812345678")
