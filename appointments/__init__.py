"""Appointments (docs/appointments.md): slots per center and line with a capacity, booked by a
verified number, cancelled, checked in at the kiosk (code or QR) into an appointment ticket, and
released when not checked in within the grace period."""
