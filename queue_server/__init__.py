"""Jing'an Neighborhood Assistance: real-time call queue and evaluation server."""
