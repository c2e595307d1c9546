"""Residents' personal data at rest (phone numbers, ID numbers): what PostgreSQL keeps of them is
sealed, what the server looks them up by is a keyed hash, and what anyone is shown is masked.

The whole API, for every store that keeps a resident's phone or ID number::

    personal = app.state.personal                 # a PersonalData, made once from the settings
    sealed = personal.seal("13812345678")         # bytes for a bytea column; None stays None
    personal.open(sealed)                         # "13812345678" again (only to send an SMS, dial, print)
    personal.lookup("+86 138-1234-5678")          # bytes for an indexed bytea column, stored beside the value
    personal.lookups("13812345678")               # what to find rows by: WHERE col = ANY($1)
    personal.handle("13812345678")                # a short keyed name for it in logs and Redis keys
    mask("13812345678")                           # "138****5678": the only form a page, CSV or API shows

Sealing is AES-256-GCM (``cryptography``) with a fresh 96-bit nonce per value, so equal numbers seal
differently and cannot be matched by their ciphertext: match them by ``lookup``, an HMAC-SHA256 under
a second key. Both keys are derived (HKDF-SHA256) from one 32-byte key in configuration,
``QUEUE_PERSONAL_DATA_KEY`` (base64). A sealed value names the key it was sealed with, so a new key
can come in while values sealed under ``QUEUE_PERSONAL_DATA_OLD_KEYS`` (comma-separated) still open
and are still found (``lookups``); ``queue-server rekey`` then re-seals and re-hashes what is stored
(record/phones.py; a store of its own adds itself to ``phones.STORES``). Rotation: docs/privacy.md.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import Settings
from ..domain.tickets import mask_phone

log = logging.getLogger("queue_server.personal")

# The demo's and the tests' key: public, so it protects nothing; ``./dev demo`` sets it, and a server
# started without a key of its own falls back to it with a warning.
DEMO_KEY = base64.b64encode(hashlib.sha256(b"jingan queue server: public demo personal-data key").digest()).decode()

_VERSION = b"\x01"
_KEY_ID_LEN, _NONCE_LEN = 4, 12


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"jingan personal data: " + purpose).derive(master)


def parse_key(text: str) -> bytes:
    """A configured key: base64 of exactly 32 bytes (``openssl rand -base64 32``)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ValueError("QUEUE_PERSONAL_DATA_KEY must be base64 (openssl rand -base64 32)") from None
    if len(key) != 32:
        raise ValueError(f"QUEUE_PERSONAL_DATA_KEY must be 32 bytes once decoded, not {len(key)}")
    return key


def canonical(value: str) -> str:
    """The form a value is hashed in, so one number looks up the same however it was written:
    a mainland mobile number as its eleven digits (+86, spaces and dashes dropped), anything else
    (an ID number) without spaces or dashes, upper-case (the check letter X)."""
    compact = re.sub(r"[\s\-()]", "", value).upper()
    digits = re.sub(r"\D", "", compact)
    if re.fullmatch(r"\+?(86)?1\d{10}", compact):
        return digits[-11:]
    return compact


def mask(value: str | None) -> str | None:
    """The only form a resident's phone or ID number is shown in (pages, CSV, API, logs): the first
    three and last four characters. Phones go through the project's one phone mask."""
    if not value:
        return None
    compact = re.sub(r"[\s\-()]", "", value)
    if len(re.sub(r"\D", "", compact)) <= 13:   # a phone, with or without +86
        return mask_phone(compact)
    return f"{compact[:3]}{'*' * (len(compact) - 7)}{compact[-4:]}"


class _Key:
    def __init__(self, master: bytes) -> None:
        self.id = _derive(master, b"key id")[:_KEY_ID_LEN]
        self.aead = AESGCM(_derive(master, b"seal"))
        self.hmac = _derive(master, b"lookup")


class PersonalData:
    """Seals, opens and hashes personal data under the configured key (and opens under old ones)."""

    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        self._key = _Key(key)
        self._by_id = {k.id: k for k in (self._key, *(_Key(o) for o in old_keys))}

    @classmethod
    def from_settings(cls, settings: Settings) -> "PersonalData":
        """The deployment's keys; without one, the public demo key and a warning (there is no
        production switch to refuse on: the warning says the data is as good as plaintext)."""
        text = settings.personal_data_key
        if not text:
            log.warning("QUEUE_PERSONAL_DATA_KEY is not set: residents' phone numbers are sealed with the PUBLIC"
                        " demo key. Set one (openssl rand -base64 32) before real residents use this server.")
            text = DEMO_KEY
        return cls(parse_key(text), [parse_key(k) for k in settings.personal_data_old_keys])

    def seal(self, value: str | None) -> bytes | None:
        """The value encrypted for storage: version, key id, nonce, ciphertext and tag."""
        if value is None:
            return None
        nonce = os.urandom(_NONCE_LEN)
        return _VERSION + self._key.id + nonce + self._key.aead.encrypt(nonce, value.encode(), None)

    def open(self, sealed: bytes | None) -> str | None:
        """The stored value in clear; raises ValueError if it was sealed under a key we no longer have
        or was altered (GCM's tag)."""
        if sealed is None:
            return None
        sealed = bytes(sealed)
        key = self._by_id.get(sealed[1:1 + _KEY_ID_LEN]) if sealed[:1] == _VERSION else None
        if key is None:
            raise ValueError("personal data sealed under an unknown key (see QUEUE_PERSONAL_DATA_OLD_KEYS)")
        start = 1 + _KEY_ID_LEN
        try:
            return key.aead.decrypt(sealed[start:start + _NONCE_LEN], sealed[start + _NONCE_LEN:], None).decode()
        except Exception as exc:   # cryptography's InvalidTag
            raise ValueError("personal data failed its integrity check") from exc

    def lookup(self, value: str | None) -> bytes | None:
        """The keyed hash to store beside a sealed value and to find it by: equal for equal values
        (see ``canonical``), useless without the key."""
        if value is None:
            return None
        return hmac.new(self._key.hmac, canonical(value).encode(), hashlib.sha256).digest()

    def lookups(self, value: str) -> list[bytes]:
        """The value's hash under the current key and every old one: rows stored before a rotation
        are found until ``rekey`` has re-hashed them."""
        text = canonical(value).encode()
        return [hmac.new(k.hmac, text, hashlib.sha256).digest() for k in self._by_id.values()]

    def handle(self, value: str) -> str:
        """A short name for a value in log lines and rate-limit keys: keyed, so it cannot be turned
        back into the number by hashing every mobile number there is, as a plain hash can."""
        return (self.lookup(value) or b"").hex()[:16]

    def is_current(self, sealed: bytes) -> bool:
        """Whether a stored value is sealed under the current key (what ``rekey`` leaves behind)."""
        return bytes(sealed)[1:1 + _KEY_ID_LEN] == self._key.id
