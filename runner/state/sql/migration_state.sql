-- Weir's record of applied migrations. Created on first use, idempotent.
CREATE SCHEMA IF NOT EXISTS weir;
COMMENT ON SCHEMA weir IS 'Run state of Weir: applied migrations, model builds, check results';

CREATE TABLE IF NOT EXISTS weir.migration (
    id text PRIMARY KEY,
    checksum text NOT NULL,
    rollback_checksum text,
    transactional boolean NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms numeric(12, 3) NOT NULL,
    applied_by text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE weir.migration IS 'One row per applied migration, written in the same transaction as the migration';
COMMENT ON COLUMN weir.migration.checksum IS 'SHA-256 of the forward file, line endings normalised';

CREATE TABLE IF NOT EXISTS weir.migration_log (
    log_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id text NOT NULL,
    operation text NOT NULL CHECK (operation IN ('apply', 'rollback', 'accept-edit', 'adopt', 'failed')),
    checksum text,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms numeric(12, 3),
    by_user text NOT NULL DEFAULT current_user,
    client text NOT NULL DEFAULT current_setting('application_name'),
    message text
);
COMMENT ON TABLE weir.migration_log IS 'Every apply, rollback, accepted edit and failure, newest last';
