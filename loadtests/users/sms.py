"""Residents answering the rating prompt by SMS: Twilio's signed inbound webhook, as Twilio would post
it. The prompts come from the run's Twilio stand-in; each process answers the numbers that hash to it."""
from __future__ import annotations

import random
import secrets
import zlib
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from locust import constant, task
from twilio.request_validator import RequestValidator

from loadtests.lean_http import LeanHttp
from loadtests.profiles import SMS_REPLIES

from .common import TALLY, kept_alive, plan, timed
from .desk import Desk

INBOUND = "/sms/twilio/inbound"


class SmsUser(Desk):
    abstract = True
    wait_time = constant(1.0)

    def on_start(self) -> None:
        super().on_start()
        sms = plan().sms
        parts = urlsplit(sms["standin_url"])
        self.standin = LeanHttp(f"{parts.scheme}://{parts.netloc}")
        self.sent_list = parts.path
        self.validator = RequestValidator(sms["auth_token"])
        self.url = sms["public_base_url"] + INBOUND
        self.to = sms["from"]
        self.seen = 0

    def owns(self, number: str) -> bool:
        """Every SMS user of the run sees every prompt; exactly one of them answers it."""
        users = type(self).fixed_count or 1
        return zlib.crc32(number.encode()) % users == self.index % users

    @task
    def answer(self) -> None:
        status, answer = timed(self.environment, "twilio stand-in (poll)",
                               lambda: self.standin.request("GET", f"{self.sent_list}?after={self.seen}"), (200,), "GET")
        if status != 200:
            return
        data: dict[str, Any] = orjson.loads(answer)
        self.seen = data["next"]
        for m in data["messages"]:
            if self.owns(m["to"]) and random.random() < SMS_REPLIES:
                self.reply(m["to"], random.choice("55554443"))

    def reply(self, number: str, body: str) -> None:
        form = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32, "From": number,
                "To": self.to, "Body": body, "NumMedia": "0"}
        headers = {"X-Twilio-Signature": self.validator.compute_signature(self.url, form),
                   "Content-Type": "application/x-www-form-urlencoded"}
        post = kept_alive(self.server)
        status, _ = timed(self.environment, "sms reply",
                          lambda: post.request("POST", INBOUND, urlencode(form).encode(), headers), (200,),
                          server=self.server)
        if status == 200:
            TALLY.count("sms_replies")
