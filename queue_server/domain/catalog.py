"""The catalog as the engine sees it: centers with their queues and windows, and the matters.
Loaded from PostgreSQL at start and held in memory; it changes rarely and is the same everywhere."""
from __future__ import annotations

from dataclasses import dataclass, field

from .materials import MaterialItem
from .network import Assignment
from .routing import QueueRule, route


@dataclass(frozen=True)
class Matter:
    code: str
    name_zh: str
    name_en: str
    bureau: str
    bureau_zh: str
    bureau_en: str
    whole_city: bool
    remote_eligible: bool
    door_to_door_eligible: bool
    materials: tuple[str, ...]
    typical_minutes: int
    items: tuple[MaterialItem, ...] = ()     # the checklist, structured (domain/materials.py)


@dataclass(frozen=True)
class Queue:
    code: str
    prefix: str
    name_zh: str
    name_en: str
    matters: frozenset[str]
    channels: frozenset[str]

    @property
    def rule(self) -> QueueRule:
        return QueueRule(self.code, self.prefix, self.matters, self.channels)


@dataclass(frozen=True)
class Window:
    code: str
    name_zh: str
    name_en: str
    kind: str
    queues: tuple[str, ...]


@dataclass(frozen=True)
class ServicePoint:
    code: str
    name_zh: str
    name_en: str
    kind: str
    address: str
    lat: float | None = None
    lng: float | None = None
    status: str = "active"


@dataclass(frozen=True)
class Center:
    code: str
    name_zh: str
    name_en: str
    address: str
    timezone: str
    hours: dict
    queues: dict[str, Queue] = field(default_factory=dict)
    windows: dict[str, Window] = field(default_factory=dict)
    service_points: dict[str, ServicePoint] = field(default_factory=dict)
    assignments: tuple[Assignment, ...] = ()     # which remote window serves which point when (domain/network.py)
    lat: float | None = None                     # where it stands (WGS-84); None: not known
    lng: float | None = None

    def queue_for(self, matter: str, channel: str) -> Queue | None:
        rule = route([q.rule for q in self.queues.values()], matter, channel)
        return self.queues[rule.code] if rule else None


@dataclass(frozen=True)
class Catalog:
    centers: dict[str, Center]
    matters: dict[str, Matter]
