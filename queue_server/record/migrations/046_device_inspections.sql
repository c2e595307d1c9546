-- Scheduled device inspections (巡检): how often each kind of device is inspected at a center (a
-- kind without a row uses the default, domain/devices.py), and every inspection with its per-item
-- results. An inspection names the one it follows (0 for a device's first): one inspection per
-- device per due period, so two inspectors racing for the same due inspection cannot both record it.
CREATE TABLE inspection_schedules (
  center        text NOT NULL REFERENCES centers(code),
  kind          text NOT NULL,
  interval_days integer NOT NULL CHECK (interval_days BETWEEN 1 AND 366),
  PRIMARY KEY (center, kind)
);

CREATE TABLE device_inspections (
  id           bigserial PRIMARY KEY,
  device       text NOT NULL REFERENCES devices(id),
  follows      bigint NOT NULL,
  passed       boolean NOT NULL,
  items        jsonb NOT NULL,
  note         text NOT NULL DEFAULT '',
  inspector    text NOT NULL DEFAULT '',
  inspected_at timestamptz NOT NULL,
  UNIQUE (device, follows)
);
CREATE INDEX device_inspections_latest ON device_inspections (device, id DESC);
