"""Password hashing through argon2-cffi (Argon2id, the library's parameters), off the event loop:
a hash takes about a tenth of a second of CPU and must not hold every other request meanwhile."""
from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so an unknown name costs as long as a wrong password.
_NOBODY = _hasher.hash("no such account")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: no such account; the work is done all the same)."""
    def check() -> bool:
        try:
            return _hasher.verify(stored or _NOBODY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.to_thread(check)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
