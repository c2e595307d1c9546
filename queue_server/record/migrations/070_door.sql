-- Door-to-door assistance (上门帮办): the service lists, the visiting roster, the cases with their
-- matters, every report that found a resident, every transition (who, when, why), and the visits.
-- Stages and transitions: queue_server/domain/door.py.

-- The district's list ('district') and each center's additions (its code); every change is a new
-- version of the whole list, so a review can say which version it checked against.
CREATE TABLE door_lists (
  scope       text NOT NULL,
  version     integer NOT NULL CHECK (version > 0),
  items       jsonb NOT NULL,            -- [{"matter": CODE, "difficulty": "simple" | "complex"}]
  note        text NOT NULL DEFAULT '',
  changed_by  text NOT NULL,
  changed_at  timestamptz NOT NULL,
  PRIMARY KEY (scope, version)
);

-- Who may be sent on a visit: acceptance staff, consultants, volunteers.
CREATE TABLE door_visitors (
  id      text PRIMARY KEY,
  center  text NOT NULL REFERENCES centers(code),
  name    text NOT NULL,
  kind    text NOT NULL CHECK (kind IN ('staff', 'consultant', 'volunteer')),
  active  boolean NOT NULL DEFAULT true
);

-- The resident's phone and ID number are kept sealed (record/personal.py); resident_key is the
-- phone's keyed hash, for finding the resident's open cases without opening anything.
CREATE TABLE door_cases (
  id                bigserial PRIMARY KEY,
  center            text NOT NULL REFERENCES centers(code),
  resident_key      bytea NOT NULL,
  resident_name     text NOT NULL,
  phone_sealed      bytea NOT NULL,
  phone_masked      text NOT NULL,
  id_number_sealed  bytea,
  id_number_masked  text,
  address           text NOT NULL,
  reason            text NOT NULL
                    CHECK (reason IN ('limited_mobility', 'elderly', 'disability', 'serious_illness', 'other')),
  reason_note       text NOT NULL DEFAULT '',
  source            text NOT NULL CHECK (source IN ('hotline', 'committee', 'grid', 'online', 'staff', 'outreach')),
  stage             text NOT NULL DEFAULT 'discovered'
                    CHECK (stage IN ('discovered', 'approved', 'refused', 'scheduled', 'tracking', 'closed', 'cancelled')),
  list_versions     jsonb,              -- {"district": N, CENTER: M}: what the review checked against
  discovered_at     timestamptz NOT NULL,
  reviewed_at       timestamptz,
  visited_at        timestamptz,        -- the accepting visit
  approvals_done_at timestamptz,        -- every approval decided
  closed_at         timestamptz,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX door_cases_board ON door_cases (center, stage);
CREATE INDEX door_cases_resident ON door_cases (resident_key);

-- A case's matters; while the case is open, a resident has one case per matter (merged, not doubled).
CREATE TABLE door_case_matters (
  case_id             bigint NOT NULL REFERENCES door_cases(id),
  matter              text NOT NULL,
  resident_key        bytea NOT NULL,
  open                boolean NOT NULL DEFAULT true,
  difficulty          text CHECK (difficulty IN ('simple', 'complex')),
  approval            text CHECK (approval IN ('submitted', 'in_review', 'approved', 'rejected')),
  expected_by         date,
  approval_changed_at timestamptz,
  overdue_reminded_at timestamptz,      -- its overdue reminder went out (once)
  PRIMARY KEY (case_id, matter)
);
CREATE UNIQUE INDEX door_one_open_case_a_matter ON door_case_matters (resident_key, matter) WHERE open;
CREATE INDEX door_case_matters_undecided ON door_case_matters (expected_by)
  WHERE approval IN ('submitted', 'in_review') AND overdue_reminded_at IS NULL;

-- Every report that found the resident, those merged into an existing case included.
CREATE TABLE door_discoveries (
  id           bigserial PRIMARY KEY,
  case_id      bigint NOT NULL REFERENCES door_cases(id),
  source       text NOT NULL,
  reported_by  text NOT NULL,
  reported_at  timestamptz NOT NULL,
  matters      text[] NOT NULL,
  note         text NOT NULL DEFAULT ''
);
CREATE INDEX door_discoveries_case ON door_discoveries (case_id);

-- The case's history, and the outbox of its events: announced_at is set once the event is on the
-- center's stream (door/events.py announces each exactly once).
CREATE TABLE door_transitions (
  id            bigserial PRIMARY KEY,
  case_id       bigint NOT NULL REFERENCES door_cases(id),
  center        text NOT NULL,
  at            timestamptz NOT NULL,
  actor         text NOT NULL,
  action        text NOT NULL,
  from_stage    text,
  to_stage      text NOT NULL,
  reason        text NOT NULL DEFAULT '',
  data          jsonb NOT NULL DEFAULT '{}',
  announced_at  timestamptz
);
CREATE INDEX door_transitions_case ON door_transitions (case_id, id);
CREATE INDEX door_transitions_unannounced ON door_transitions (id) WHERE announced_at IS NULL;

-- Visits: the booking, then the record made on site. A person is booked once a slot (two schedulers
-- racing for the same one: one wins); a case has at most one visit booked and not yet recorded.
CREATE TABLE door_visits (
  id              bigserial PRIMARY KEY,
  case_id         bigint NOT NULL REFERENCES door_cases(id),
  visitor         text NOT NULL REFERENCES door_visitors(id),
  visit_date      date NOT NULL,
  slot            text NOT NULL CHECK (slot IN ('am', 'pm')),
  scheduled_by    text NOT NULL,
  scheduled_at    timestamptz NOT NULL,
  cancelled_at    timestamptz,
  record_key      text UNIQUE,          -- the page's key for its one record: a resend is the same record
  arrived_at      timestamptz,
  materials       jsonb,                -- [{"name": ..., "collected": bool}]
  accepted        boolean,
  outcome_reason  text,
  signature       bytea,
  signature_type  text CHECK (signature_type IN ('image/png', 'image/jpeg')),
  recorded_at     timestamptz
);
CREATE UNIQUE INDEX door_visitor_once_a_slot ON door_visits (visitor, visit_date, slot) WHERE cancelled_at IS NULL;
CREATE UNIQUE INDEX door_one_booking_a_case ON door_visits (case_id) WHERE cancelled_at IS NULL AND recorded_at IS NULL;

-- Evaluation: a door-to-door service is rated like a ticket, on the visitor's tablet (channel
-- 'door') or by SMS; the SMS outbox also carries the case's notices, their text written when queued.
ALTER TABLE reviews DROP CONSTRAINT reviews_channel_check;
ALTER TABLE reviews ADD CONSTRAINT reviews_channel_check CHECK (channel IN ('tablet', 'sms', 'web', 'default', 'door'));
ALTER TABLE sms_messages DROP CONSTRAINT sms_messages_kind_check;
ALTER TABLE sms_messages ADD CONSTRAINT sms_messages_kind_check
  CHECK (kind IN ('prompt', 'reminder', 'followup', 'notice'));
ALTER TABLE sms_messages ADD COLUMN body text;
