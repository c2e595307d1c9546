"""Which center to go to for a whole-city matter (全市通办): the predicted wait there plus the walk
from where the resident is, each weighed by configuration. Straight-line distance at walking speed
is enough for a district of 7 km² where every center is a short walk or bus ride away."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Weights:
    """How a wait and a walk weigh against each other: score = wait × ``wait`` + walk × ``walk`` (s)."""
    wait: float = 1.0
    walk: float = 1.0
    walk_speed_m_s: float = 1.2          # an unhurried adult, 4.3 km/h


@dataclass(frozen=True)
class Candidate:
    center: str
    distance_m: float
    wait_s: int

    def walk_s(self, w: Weights) -> int:
        return int(round(self.distance_m / w.walk_speed_m_s))

    def score_s(self, w: Weights) -> float:
        return w.wait * self.wait_s + w.walk * self.distance_m / w.walk_speed_m_s


def rank(candidates: Iterable[Candidate], weights: Weights) -> list[Candidate]:
    """Best first: the lowest score, then the nearer, then by code (a stable order for equal ones)."""
    return sorted(candidates, key=lambda c: (c.score_s(weights), c.distance_m, c.center))
