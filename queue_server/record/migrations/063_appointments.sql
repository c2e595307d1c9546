-- Appointments: slots a center's manager opens on one of its lines, each with a capacity, and the
-- residents' bookings of them. A booking is held by a verified phone number (sealed, found by its
-- keyed hash: record/personal.py), one live booking per number and slot; capacity is kept by
-- locking the slot's row while counting (appointments/store.py).
CREATE TABLE appointment_slots (
  id         bigserial PRIMARY KEY,
  center     text NOT NULL,
  queue      text NOT NULL,
  starts_at  timestamptz NOT NULL,
  ends_at    timestamptz NOT NULL,
  capacity   integer NOT NULL CHECK (capacity BETWEEN 1 AND 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  UNIQUE (center, queue, starts_at),
  FOREIGN KEY (center, queue) REFERENCES queues (center, code)
);
CREATE INDEX appointment_slots_day ON appointment_slots (center, starts_at);

CREATE TABLE appointments (
  id           bigserial PRIMARY KEY,
  slot_id      bigint NOT NULL REFERENCES appointment_slots (id),
  code         text NOT NULL UNIQUE,           -- the booking code the resident types or scans at the kiosk
  matter       text NOT NULL REFERENCES matters (code),
  phone        bytea NOT NULL,                 -- sealed
  phone_lookup bytea NOT NULL,
  status       text NOT NULL CHECK (status IN ('booked', 'cancelled', 'checked_in', 'released')),
  ticket_id    text,
  booked_at    timestamptz NOT NULL,
  changed_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX appointments_one_per_number ON appointments (slot_id, phone_lookup)
  WHERE status IN ('booked', 'checked_in');
CREATE INDEX appointments_live ON appointments (slot_id) WHERE status = 'booked';
