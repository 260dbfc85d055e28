-- A project's advanced data scrubbing rules (`relayPiiConfig`): Relay's PII config as the JSON
-- text the user wrote, NULL for none.
ALTER TABLE scrubbing_settings ADD COLUMN relay_pii_config TEXT;
