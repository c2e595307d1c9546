-- Residents' phone numbers sealed at rest (record/personal.py, docs/privacy.md). The plaintext
-- columns go; what they held is staged in temporary tables that the migration's Python step
-- (record/migrate.py: seal_staged_phones) seals into the new columns in this same transaction.

CREATE TEMP TABLE unsealed_ticket_phones ON COMMIT DROP AS
  SELECT id, phone FROM tickets WHERE phone IS NOT NULL;
CREATE TEMP TABLE unsealed_sms_numbers ON COMMIT DROP AS
  SELECT id, to_number FROM sms_messages;
CREATE TEMP TABLE unsealed_optouts ON COMMIT DROP AS
  SELECT number, keyword, opted_out_at FROM sms_optouts;

-- The phone sealed, and its keyed hash to find a resident's tickets by; both NULL once retention
-- (QUEUE_PHONE_RETENTION_DAYS) has passed.
ALTER TABLE tickets DROP COLUMN phone, ADD COLUMN phone_sealed bytea, ADD COLUMN phone_lookup bytea;
CREATE INDEX tickets_phone_lookup ON tickets (phone_lookup) WHERE phone_lookup IS NOT NULL;
CREATE INDEX tickets_phone_kept ON tickets (issued_at) WHERE phone_sealed IS NOT NULL;
-- The ticket in each recorded event and row kept the phone as well.
UPDATE tickets SET data = data - 'phone' WHERE data ? 'phone';
UPDATE events SET data = jsonb_set(data, '{ticket}', (data -> 'ticket') - 'phone') WHERE data -> 'ticket' ? 'phone';

-- The SMS outbox: the number to send to, sealed, and its keyed hash (the conversation finds the
-- prompt a reply answers by it).
ALTER TABLE sms_messages DROP COLUMN to_number, ADD COLUMN to_sealed bytea, ADD COLUMN to_lookup bytea;
CREATE INDEX sms_messages_lookup ON sms_messages (to_lookup, sent_at DESC) WHERE state = 'sent';
CREATE INDEX sms_messages_number_kept ON sms_messages (created_at) WHERE to_sealed IS NOT NULL;

-- Opt-outs are matched by the keyed hash; the sealed number is kept only so that a new key can
-- re-hash them (an opt-out is honoured for good, so retention does not apply to it).
DELETE FROM sms_optouts;
ALTER TABLE sms_optouts DROP COLUMN number, ADD COLUMN number_lookup bytea PRIMARY KEY,
  ADD COLUMN number_sealed bytea NOT NULL;
