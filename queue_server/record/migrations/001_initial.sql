-- Catalog, people and devices, and the record of every ticket and event.
CREATE TABLE centers (
  code        text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]{2,32}$'),
  name_zh     text NOT NULL,
  name_en     text NOT NULL,
  address     text NOT NULL DEFAULT '',
  timezone    text NOT NULL DEFAULT 'Asia/Shanghai',
  hours       jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE matters (
  code                  text PRIMARY KEY,
  name_zh               text NOT NULL,
  name_en               text NOT NULL,
  bureau                text NOT NULL,
  bureau_zh             text NOT NULL,
  bureau_en             text NOT NULL,
  whole_city            boolean NOT NULL DEFAULT true,
  remote_eligible       boolean NOT NULL DEFAULT false,
  door_to_door_eligible boolean NOT NULL DEFAULT false,
  materials             text[] NOT NULL DEFAULT '{}',
  typical_minutes       integer NOT NULL DEFAULT 10 CHECK (typical_minutes > 0)
);

CREATE TABLE queues (
  center    text NOT NULL REFERENCES centers(code),
  code      text NOT NULL,
  prefix    text NOT NULL CHECK (prefix ~ '^[A-Z]$'),
  name_zh   text NOT NULL,
  name_en   text NOT NULL,
  matters   text[] NOT NULL DEFAULT '{}',
  channels  text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (center, code),
  UNIQUE (center, prefix)
);

CREATE TABLE service_points (
  center   text NOT NULL REFERENCES centers(code),
  code     text NOT NULL,
  name_zh  text NOT NULL,
  name_en  text NOT NULL,
  kind     text NOT NULL,
  address  text NOT NULL DEFAULT '',
  PRIMARY KEY (center, code)
);

CREATE TABLE windows (
  center   text NOT NULL REFERENCES centers(code),
  code     text NOT NULL,
  name_zh  text NOT NULL,
  name_en  text NOT NULL,
  kind     text NOT NULL CHECK (kind IN ('onsite', 'remote')),
  queues   text[] NOT NULL,
  PRIMARY KEY (center, code)
);

CREATE TABLE staff (
  id           text PRIMARY KEY,
  center       text NOT NULL REFERENCES centers(code),
  employee_no  text NOT NULL,
  name         text NOT NULL,
  photo_url    text NOT NULL DEFAULT ''
);

CREATE TABLE tokens (
  token_hash  text PRIMARY KEY,
  role        text NOT NULL CHECK (role IN ('admin', 'manager', 'staff', 'device')),
  center      text REFERENCES centers(code),
  window_code text,
  staff_id    text REFERENCES staff(id),
  device_kind text,
  label       text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE tickets (
  id              text PRIMARY KEY,
  center          text NOT NULL,
  day             date NOT NULL,
  number          text NOT NULL,
  queue           text NOT NULL,
  class           text NOT NULL,
  matter          text NOT NULL,
  channel         text NOT NULL,
  priority        text NOT NULL,
  phone           text,
  service_point   text,
  status          text NOT NULL,
  window_code     text,
  recalls         integer NOT NULL DEFAULT 0,
  issued_at       timestamptz NOT NULL,
  sort_at         timestamptz NOT NULL,
  called_at       timestamptz,
  started_at      timestamptz,
  finished_at     timestamptz,
  ended_at        timestamptz,
  version         integer NOT NULL,
  data            jsonb NOT NULL
);
CREATE INDEX tickets_center_day ON tickets (center, day);
CREATE INDEX tickets_live ON tickets (center, day) WHERE status IN ('waiting', 'called', 'serving', 'paused');

CREATE TABLE events (
  center      text NOT NULL,
  stream_id   text NOT NULL,
  stream_ms   bigint NOT NULL,
  stream_seq  bigint NOT NULL,
  type        text NOT NULL,
  at          timestamptz NOT NULL,
  ticket_id   text,
  window_code text,
  data        jsonb NOT NULL,
  PRIMARY KEY (center, stream_id)
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_ticket ON events (ticket_id);

-- The last known state of each window, so a Redis that lost its data gets its windows back.
CREATE TABLE window_states (
  center      text NOT NULL,
  window_code text NOT NULL,
  state       text NOT NULL,
  data        jsonb NOT NULL,
  stream_ms   bigint NOT NULL,
  stream_seq  bigint NOT NULL,
  PRIMARY KEY (center, window_code)
);
