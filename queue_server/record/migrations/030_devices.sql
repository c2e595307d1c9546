-- The registry of devices: every device token belongs to one registered device, which says what it
-- is (kind, model, software), where it stands (its center, and a window or a service point) and
-- how long it may stay silent before it counts as offline.
CREATE TABLE devices (
  id               text PRIMARY KEY,
  center           text NOT NULL REFERENCES centers(code),
  kind             text NOT NULL CHECK (kind IN ('kiosk', 'all_in_one', 'printer', 'hall_display', 'window_screen',
                                                 'tablet', 'dashboard')),
  window_code      text,
  point            text,
  model            text NOT NULL DEFAULT '',
  software_version text NOT NULL DEFAULT '',
  installed_on     date,
  label            text NOT NULL DEFAULT '',
  offline_after_s  integer NOT NULL DEFAULT 90 CHECK (offline_after_s BETWEEN 1 AND 86400),
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (window_code IS NULL OR point IS NULL)
);
CREATE INDEX devices_center ON devices (center);

ALTER TABLE tokens ADD COLUMN device_id text REFERENCES devices(id);
CREATE INDEX tokens_device ON tokens (device_id) WHERE device_id IS NOT NULL;

-- Device tokens made before the registry each become a device of their own.
INSERT INTO devices (id, center, kind, window_code, point, label)
SELECT 'dv_' || substr(token_hash, 1, 16), center,
       CASE device_kind WHEN 'display' THEN 'hall_display' WHEN 'screen' THEN 'window_screen'
                        WHEN 'tablet' THEN 'tablet' WHEN 'dashboard' THEN 'dashboard' ELSE 'kiosk' END,
       window_code, point, label
FROM tokens WHERE role = 'device' AND center IS NOT NULL;
UPDATE tokens SET device_id = 'dv_' || substr(token_hash, 1, 16) WHERE role = 'device' AND center IS NOT NULL;
