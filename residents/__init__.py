"""Residents from anywhere: a ticket taken from home on the phone with the number verified by an SMS
code, and the "your turn is near" / "you are called" SMS (docs/residents.md)."""
