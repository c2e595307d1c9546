-- The neighborhood service network: service points as managed things (kind, position, status with
-- its history) and the daily time ranges in which a remote window serves a point.
ALTER TABLE service_points
  ADD COLUMN lat    double precision CHECK (lat BETWEEN -90 AND 90),
  ADD COLUMN lng    double precision CHECK (lng BETWEEN -180 AND 180),
  ADD COLUMN status text NOT NULL DEFAULT 'active'
    CHECK (status IN ('planned', 'active', 'suspended', 'closed'));

CREATE TABLE service_point_changes (
  id          bigserial PRIMARY KEY,
  center      text NOT NULL,
  point       text NOT NULL,
  from_status text,
  to_status   text NOT NULL,
  changed_by  text NOT NULL,
  reason      text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (center, point) REFERENCES service_points (center, code)
);
CREATE INDEX service_point_changes_point ON service_point_changes (center, point, at);

CREATE TABLE remote_assignments (
  id          bigserial PRIMARY KEY,
  center      text NOT NULL,
  window_code text NOT NULL,
  point       text NOT NULL,
  starts_min  integer NOT NULL CHECK (starts_min >= 0),
  ends_min    integer NOT NULL CHECK (ends_min <= 1440 AND ends_min > starts_min),
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (center, window_code) REFERENCES windows (center, code),
  FOREIGN KEY (center, point) REFERENCES service_points (center, code)
);
CREATE INDEX remote_assignments_center ON remote_assignments (center);

-- A device token may be bound to one service point (its screen, tablet or kiosk).
ALTER TABLE tokens ADD COLUMN point text;
