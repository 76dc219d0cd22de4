-- Weir's history of gates: checks run inside a model's build transaction (runner/checks/gates.py).
-- Created on first use, idempotent; only ever appended to. A gate that passed, warned or
-- quarantined rows is recorded in the model's transaction, so it commits with the data;
-- a failed gate is recorded after its model's transaction rolled back.
CREATE SCHEMA IF NOT EXISTS weir;

CREATE TABLE IF NOT EXISTS weir.gate_result (
    gate_result_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    build_run_id bigint REFERENCES weir.build_run ON DELETE CASCADE,
    model text NOT NULL,
    check_name text NOT NULL,
    path text NOT NULL,
    status text NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'quarantined', 'error')),
    severity text NOT NULL CHECK (severity IN ('error', 'warn')),
    violations bigint,
    rejected bigint NOT NULL DEFAULT 0,
    seconds numeric(12, 3) NOT NULL,
    sample jsonb,
    error text,
    finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((status = 'error') = (violations IS NULL))
);
COMMENT ON TABLE weir.gate_result IS
    'One row per gate per model build: checks declared gate=schema.name, run before the model commits';
COMMENT ON COLUMN weir.gate_result.build_run_id IS 'The weir.build_run the gate ran in (NULL outside weir build)';
COMMENT ON COLUMN weir.gate_result.violations IS 'Rows the check returned; NULL when it could not run';
COMMENT ON COLUMN weir.gate_result.rejected IS
    'Rows moved to the model''s __rejected table (quarantine=true); the model kept the rest';
COMMENT ON COLUMN weir.gate_result.sample IS 'The first rows the check returned (its show directive) as jsonb';

CREATE INDEX IF NOT EXISTS gate_result_latest ON weir.gate_result (check_name, gate_result_id DESC);
