-- A finished door-to-door case forgets the resident's phone and ID number after the phone retention
-- period (door/store.forget_finished); the masked forms stay for the history.
ALTER TABLE door_cases ALTER COLUMN phone_sealed DROP NOT NULL;
CREATE INDEX door_cases_personal_kept ON door_cases (updated_at)
  WHERE phone_sealed IS NOT NULL AND stage IN ('closed', 'refused', 'cancelled');
