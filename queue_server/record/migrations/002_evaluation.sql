-- Good and bad reviews: the served tickets that may be rated, the ratings, web links, the SMS
-- outbox and its conversation, opt-outs, and the rectification cases bad reviews open.

-- One row per finished ticket: what a review is bound to (center, window, staff on duty, matter).
CREATE TABLE eval_served (
  ticket_id    text PRIMARY KEY,
  center       text NOT NULL,
  window_code  text,
  staff_id     text,
  matter       text NOT NULL,
  day          date NOT NULL,          -- the center's local service day
  finished_at  timestamptz NOT NULL,
  has_phone    boolean NOT NULL DEFAULT false,
  unrated_at   timestamptz             -- set when the rating period ended without a rating
);
CREATE INDEX eval_served_center_day ON eval_served (center, day);
CREATE INDEX eval_served_open ON eval_served (finished_at) WHERE unrated_at IS NULL;

CREATE TABLE reviews (
  id           bigserial PRIMARY KEY,
  ticket_id    text NOT NULL REFERENCES eval_served(ticket_id),
  round        smallint NOT NULL DEFAULT 1 CHECK (round IN (1, 2)),  -- 2: the follow-up after rectification
  level        smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
  channel      text NOT NULL CHECK (channel IN ('tablet', 'sms', 'web', 'default')),
  is_default   boolean NOT NULL DEFAULT false,                         -- a configured level applied to an unrated ticket
  prompted     boolean NOT NULL DEFAULT false,                         -- given after an SMS prompt was sent
  reasons      text[] NOT NULL DEFAULT '{}',
  comment      text NOT NULL DEFAULT '',
  excluded     boolean NOT NULL DEFAULT false,                         -- an upheld appeal found it malicious
  rated_at     timestamptz NOT NULL,
  UNIQUE (ticket_id, round)
);
CREATE INDEX reviews_rated_at ON reviews (rated_at);

-- Single-use web review links; only the SHA-256 of the secret is kept.
CREATE TABLE review_links (
  token_hash   text PRIMARY KEY,
  ticket_id    text NOT NULL,
  round        smallint NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);
CREATE INDEX review_links_ticket ON review_links (ticket_id);

-- The SMS outbox. The number is kept only here, to send to; it never leaves in an answer or a log.
CREATE TABLE sms_messages (
  id             bigserial PRIMARY KEY,
  ticket_id      text NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('prompt', 'reminder', 'followup')),
  to_number      text NOT NULL,
  state          text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'suppressed')),
  due_at         timestamptz NOT NULL,
  lease_until    timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text,
  twilio_sid     text UNIQUE,
  twilio_status  text,
  sent_at        timestamptz,
  conversation   text NOT NULL DEFAULT 'level' CHECK (conversation IN ('level', 'reason', 'done')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (ticket_id, kind)
);
CREATE INDEX sms_messages_due ON sms_messages (due_at) WHERE state IN ('queued', 'sending');
CREATE INDEX sms_messages_number ON sms_messages (to_number, sent_at DESC) WHERE state = 'sent';

CREATE TABLE sms_status_events (
  message_sid  text NOT NULL,
  status       text NOT NULL,
  error_code   text,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_sid, status)
);

CREATE TABLE sms_inbound (
  message_sid  text PRIMARY KEY,
  message_id   bigint REFERENCES sms_messages(id),
  outcome      text NOT NULL DEFAULT '',
  reply        text,
  received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sms_optouts (
  number        text PRIMARY KEY,
  keyword       text NOT NULL,
  opted_out_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rectifications (
  id            bigserial PRIMARY KEY,
  review_id     bigint NOT NULL UNIQUE REFERENCES reviews(id),
  ticket_id     text NOT NULL,
  center        text NOT NULL,
  window_code   text,
  staff_id      text,
  owner         text NOT NULL,          -- the center's manager role: 'manager:{center}'
  state         text NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'contacted', 'verified', 'rectified', 'closed', 'appealed', 'upheld')),
  appealed_from text,
  opened_at     timestamptz NOT NULL,
  contact_due   timestamptz NOT NULL,
  resolve_due   timestamptz NOT NULL,
  rectify_due   timestamptz NOT NULL,
  contacted_at  timestamptz,
  verified_at   timestamptz,
  rectified_at  timestamptz,
  closed_at     timestamptz,
  escalated     text[] NOT NULL DEFAULT '{}',   -- stages whose overdue event was emitted
  followup_review_id bigint REFERENCES reviews(id)
);
CREATE INDEX rectifications_center ON rectifications (center, state);

CREATE TABLE rectification_notes (
  id          bigserial PRIMARY KEY,
  case_id     bigint NOT NULL REFERENCES rectifications(id),
  at          timestamptz NOT NULL,
  author      text NOT NULL,
  from_state  text,
  to_state    text,
  note        text NOT NULL DEFAULT ''
);
CREATE INDEX rectification_notes_case ON rectification_notes (case_id);
