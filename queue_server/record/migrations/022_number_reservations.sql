-- Ticket numbers reserved ahead of use (record/numbers.py): Redis hands out a center's number of the
-- day only below the high-water mark recorded here, so a Redis that lost its data (or rolled back
-- to its last fsync) resumes every sequence above anything it could have handed out.
CREATE TABLE number_reservations (
  center      text NOT NULL,
  day         date NOT NULL,
  prefix      text NOT NULL,
  reserved_to integer NOT NULL CHECK (reserved_to >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (center, day, prefix)
);
