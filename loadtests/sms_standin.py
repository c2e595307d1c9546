"""Twilio for a load run: the project's stand-in of the Messages API on a loopback port, and the
settings that point the servers at it. The SMS users follow what it was asked to send through its
message list (``?after=N``), so they know which residents just got a rating prompt."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from evaluation.sms.standin import API, TwilioStandin, standin_env

PUBLIC_BASE_URL = "https://queue.example.sh"   # what Twilio signs: the public URL, not the loopback one


@contextlib.contextmanager
def running_standin() -> Iterator[tuple[TwilioStandin, str, dict[str, str]]]:
    """Yields the stand-in, the URL of its message list and the servers' settings for it."""
    standin = TwilioStandin()
    with standin.serve() as url:
        yield (standin, f"{url}/{API}/Accounts/{standin.account_sid}/Messages.json",
               {**standin_env(standin, url), "QUEUE_PUBLIC_BASE_URL": PUBLIC_BASE_URL})
