-- Accounts: people who log in (clerks, center managers, district admins, auditors), their login
-- tokens, token expiry, and one-time codes that enroll a registered device (docs/accounts.md).
ALTER TABLE tokens DROP CONSTRAINT tokens_role_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_role_check
  CHECK (role IN ('admin', 'manager', 'staff', 'device', 'assistant', 'auditor'));

CREATE TABLE users (
  id            bigserial PRIMARY KEY,
  username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{2,64}$'),
  display_name  text NOT NULL,
  role          text NOT NULL CHECK (role IN ('clerk', 'manager', 'admin', 'auditor')),
  center        text REFERENCES centers(code),
  window_code   text,
  staff_id      text REFERENCES staff(id),
  password_hash text NOT NULL,
  failures      integer NOT NULL DEFAULT 0,   -- wrong passwords in a row
  locked_until  timestamptz,
  disabled_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (role IN ('admin', 'auditor') OR center IS NOT NULL),
  CHECK (role = 'clerk' OR window_code IS NULL)
);

-- Every token expires; tokens made before expiry existed get the default lifetimes of their kind.
ALTER TABLE tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE tokens ADD COLUMN user_id bigint REFERENCES users(id);
UPDATE tokens SET expires_at = created_at + CASE role WHEN 'device' THEN interval '365 days' ELSE interval '30 days' END;
ALTER TABLE tokens ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE tokens ALTER COLUMN expires_at SET DEFAULT now() + interval '30 days';   -- rows written by hand (benchmarks)
CREATE INDEX tokens_expires ON tokens (expires_at) WHERE revoked_at IS NULL;
CREATE INDEX tokens_user ON tokens (user_id) WHERE user_id IS NOT NULL;

-- A single-use code that hands a registered device its token: only its hash is kept.
CREATE TABLE enrollment_codes (
  code_hash   text PRIMARY KEY,
  device_id   text NOT NULL REFERENCES devices(id),
  created_by  text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX enrollment_codes_device ON enrollment_codes (device_id);
