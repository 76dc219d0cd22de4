-- Weir's history of retention: what each `weir retain` removed (runner/retention/). Created on
-- first use, idempotent; only ever appended to. A step (a dropped partition, a batch of deleted
-- rows) is recorded in the transaction that removes it, so the history never claims a removal
-- that a crash undid, nor misses one that committed.
CREATE SCHEMA IF NOT EXISTS weir;

CREATE TABLE IF NOT EXISTS weir.retention_run (
    retention_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    as_of timestamptz NOT NULL,
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'success', 'failed'))
);
COMMENT ON TABLE weir.retention_run IS 'One row per weir retain run; status running until it ends';

CREATE TABLE IF NOT EXISTS weir.retention_step (
    retention_run_id bigint NOT NULL REFERENCES weir.retention_run ON DELETE CASCADE,
    model text NOT NULL,
    cutoff timestamptz NOT NULL,
    partition_name text,
    rows_removed bigint NOT NULL,
    archived boolean NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE weir.retention_step IS
    'What one transaction of weir retain removed: a whole partition (partition_name) or a batch of rows';
CREATE INDEX IF NOT EXISTS retention_step_run_idx ON weir.retention_step (retention_run_id);
