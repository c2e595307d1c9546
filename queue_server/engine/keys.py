"""Every Redis key name, in one place.

All keys of a center share the hash tag ``{center}`` so one script can touch them on Redis
Cluster. Scripts that must reach a key named by data (a ticket's hash, the window it stands at)
build it from the ``center_base`` handed to them, which keeps the same tag.
"""
from __future__ import annotations

from dataclasses import dataclass

from .connection import sync_client


@dataclass(frozen=True)
class Keys:
    prefix: str = "qs"

    @property
    def everything(self) -> str:
        """A SCAN pattern for every key under this prefix."""
        return f"{self.prefix}:*"

    def center_base(self, center: str) -> str:
        return f"{self.prefix}:{{{center}}}:"

    def ticket(self, center: str, ticket_id: str) -> str:
        return f"{self.center_base(center)}t:{ticket_id}"

    def waiting(self, center: str, queue: str, cls: str) -> str:
        return f"{self.center_base(center)}w:{queue}:{cls}"

    @staticmethod
    def point_line(point: str) -> str:
        """The line (in place of a queue code in ``waiting``) of a service point's tickets: the remote
        windows assigned to the point at call time take from it (network, domain/network.py)."""
        return f"@{point}"

    def window_waiting(self, center: str, window: str) -> str:
        return f"{self.center_base(center)}ww:{window}"

    def window(self, center: str, window: str) -> str:
        return f"{self.center_base(center)}win:{window}"

    def open_windows(self, center: str, queue: str) -> str:
        return f"{self.center_base(center)}open:{queue}"

    def sequence(self, center: str, day: str) -> str:
        return f"{self.center_base(center)}seq:{day}"

    def number_reserve(self, center: str, day: str) -> str:
        """Per prefix, the highest number of the day PostgreSQL has reserved (the sequence may not pass
        it), and under ``_run`` the Redis server (run id) that resumed the day's sequences."""
        return f"{self.center_base(center)}numres:{day}"

    def idempotency(self, center: str, key: str) -> str:
        return f"{self.center_base(center)}idem:{key}"

    def stats(self, center: str) -> str:
        return f"{self.center_base(center)}stats"

    def handling_samples(self, center: str, queue: str, matter: str) -> str:
        """List of the latest handling times (s, newest first, ``wait.SAMPLES_KEPT`` of them) of one
        matter in one queue: transition.lua pushes on every finish, the position scripts read it."""
        return f"{self.center_base(center)}hs:{queue}:{matter}"

    def handling_summary(self, center: str, queue: str, matter: str) -> str:
        """``"<count> <median>"`` of those samples (``wait.RecentHandling``), kept by transition.lua at
        every finish so a position read takes it rather than the samples."""
        return f"{self.center_base(center)}hm:{queue}:{matter}"

    def live(self, center: str) -> str:
        """Ids of the center's tickets not yet in a final state."""
        return f"{self.center_base(center)}live"

    def events(self, center: str) -> str:
        return f"{self.center_base(center)}events"

    def alive(self, center: str) -> str:
        """Present while Redis holds the center's hot state; scripts refuse to number tickets
        without it, and its absence makes the next start (or the persister) rebuild the center."""
        return f"{self.center_base(center)}alive"

    def rebuild_lock(self) -> str:
        return f"{self.prefix}:rebuild-lock"

    def epoch(self, center: str) -> str:
        """A random tag of the center's stream history: a Redis that lost its data gets a new one,
        so a client's cursor from before is known to be meaningless (realtime/)."""
        return f"{self.center_base(center)}epoch"

    def devices(self, center: str) -> str:
        """Hash of the center's connected devices and when each was last seen (realtime/)."""
        return f"{self.center_base(center)}devices"

    def device_states(self, center: str) -> str:
        """Hash of each registered device's last announced state, online or offline (devices/watch.py):
        the transition script changes it and emits the event together, so each transition is one event."""
        return f"{self.center_base(center)}devstate"

    def door_announced(self, center: str) -> str:
        """The door-to-door transitions lately put on the center's stream (door_announce.lua): each once."""
        return f"{self.center_base(center)}door:announced"

    def device_revocations(self) -> str:
        """Pub/sub channel: a revoked token's hash (a device's, a login, any: devices/ and accounts/ publish it);
        every instance forgets it and closes its sockets."""
        return f"{self.prefix}:devices:revoked"

    def network_changes(self) -> str:
        """Pub/sub channel: a service point or an assignment changed; every instance reloads its catalog."""
        return f"{self.prefix}:network:changes"

    def calendar_changes(self) -> str:
        """Pub/sub channel: hours or the calendar file changed; every instance reloads its calendar."""
        return f"{self.prefix}:calendar:changes"

    def resident_code(self, center: str, number_key: str) -> str:
        """The one-time code pending for a number at a center (residents/): its digest and the wrong
        attempts so far; it expires on its own."""
        return f"{self.center_base(center)}rcode:{number_key}"

    def resident_claim(self, center: str, number_key: str) -> str:
        """The number's remote ticket at the center: the idempotency key its issue used (the ticket id
        is found under it) and when it was claimed. At most one live remote ticket per number and center."""
        return f"{self.center_base(center)}rclaim:{number_key}"

    def resident_quota(self, limit: str, who: str, window: int) -> str:
        """Code requests under one limit (per number, per address) in one window of the clock; all of
        them share a hash tag so one script counts a request against every limit at once."""
        return f"{self.prefix}:{{residents}}:quota:{limit}:{who}:{window}"

    def near_watch(self, center: str) -> str:
        """Tickets of the center with a phone whose "your turn is near" SMS is not queued yet."""
        return f"{self.center_base(center)}nearwatch"

    def check_in_due(self, center: str) -> str:
        """Called remote tickets not checked in, scored by the end of their grace period (ms)."""
        return f"{self.center_base(center)}checkindue"

    def remote_session(self, center: str, window: str) -> str:
        """Hash of a remote window's video session now (remote_session/): at most one per window."""
        return f"{self.center_base(center)}rtc:{window}"

    def session_signals(self, center: str, session: str) -> str:
        """Pub/sub channel of one video session: its signaling (offer, answer, ICE), relayed between instances."""
        return f"{self.prefix}:rtc:{center}:{session}"

    def every_session_signals(self) -> str:
        """The pattern every instance follows for ``session_signals`` (one subscription per instance)."""
        return f"{self.prefix}:rtc:*"

    def sms_rate(self, number_handle: str, hour: int) -> str:
        """SMS sent to one number (by its keyed handle) in one clock hour: the per-number send limit."""
        return f"{self.prefix}:sms:rate:{number_handle}:{hour}"


def drop_keys(redis_url: str, pattern: str) -> int:
    """Delete every key matching ``pattern`` (SCAN, not KEYS: Redis stays responsive), for tests and
    benchmarks that share the machine's Redis with other runs and the demo; returns how many."""
    r = sync_client(redis_url)
    dropped = 0
    try:
        batch: list[bytes] = []
        for key in r.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == 500:
                dropped += r.unlink(*batch)
                batch.clear()
        if batch:
            dropped += r.unlink(*batch)
    finally:
        r.close()
    return dropped
