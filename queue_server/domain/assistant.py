"""The assistant at a service point (帮办员): a person at the point who takes tickets for residents
and tells the remote clerk that the resident is there. Pure rules, shared by the API and the engine."""
from __future__ import annotations

from .tickets import Status

# A resident can be marked present while waiting or called to the video window: then the clerk
# needs to know. Once served, paused or ended there is nobody to announce.
PRESENT_FROM = frozenset({Status.WAITING, Status.CALLED})
# What an assistant may issue: a resident's own ticket or a priority one (the elderly, the disabled);
# appointments come booked through the app, not from the point.
ASSISTANT_PRIORITIES = ("normal", "priority")
