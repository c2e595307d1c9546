"""The weights of the recommendation and its rate limit, from the environment (``QUEUE_RECOMMEND_*``)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from queue_server.domain.choice import Weights


@dataclass(frozen=True)
class RecommendConfig:
    weights: Weights = Weights()
    per_minute: int = 30          # requests per address: each reads every center's line

    @classmethod
    def from_env(cls) -> "RecommendConfig":
        d = Weights()
        return cls(Weights(wait=float(os.environ.get("QUEUE_RECOMMEND_WAIT_WEIGHT", d.wait)),
                           walk=float(os.environ.get("QUEUE_RECOMMEND_WALK_WEIGHT", d.walk)),
                           walk_speed_m_s=float(os.environ.get("QUEUE_RECOMMEND_WALK_SPEED_M_S", d.walk_speed_m_s))),
                   int(os.environ.get("QUEUE_RECOMMEND_PER_MINUTE", cls.per_minute)))
