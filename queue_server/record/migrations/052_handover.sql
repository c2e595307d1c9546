-- The hand-over of originals (材料流转): a package per ticket holding the items whose originals must
-- reach the center, moving packed (point) -> sent (point) -> received (center) -> returned (point, to
-- the resident). The state moves by a conditional UPDATE, so a step is never skipped or done twice;
-- each step is also a row of its own, with who and when.
CREATE TABLE packages (
  id          bigserial PRIMARY KEY,
  center      text NOT NULL,
  point       text NOT NULL,
  ticket_id   text NOT NULL UNIQUE,
  items       jsonb NOT NULL,
  state       text NOT NULL CHECK (state IN ('packed', 'sent', 'received', 'returned')),
  packed_by   text NOT NULL,
  packed_at   timestamptz NOT NULL,
  sent_by     text,
  sent_at     timestamptz,
  received_by text,
  received_at timestamptz,
  returned_by text,
  returned_at timestamptz
);
CREATE INDEX packages_open ON packages (center, state) WHERE state <> 'returned';

CREATE TABLE package_steps (
  package_id bigint NOT NULL REFERENCES packages (id),
  step       text NOT NULL CHECK (step IN ('packed', 'sent', 'received', 'returned')),
  by_whom    text NOT NULL,
  at         timestamptz NOT NULL,
  PRIMARY KEY (package_id, step)
);
