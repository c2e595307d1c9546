"""Locust users, one module per kind of client: desks (kiosks, window clerks, residents and the two
closed-loop users of the capacity phases), screens (websockets) and SMS replies."""
