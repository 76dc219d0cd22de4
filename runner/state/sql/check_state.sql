-- Weir's history of check runs. Created on first use, idempotent; only ever appended to.
CREATE SCHEMA IF NOT EXISTS weir;

CREATE TABLE IF NOT EXISTS weir.check_run (
    run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'pass', 'warn', 'fail', 'error', 'interrupted')),
    selectors text[] NOT NULL DEFAULT '{}',
    threads integer NOT NULL,
    checks integer NOT NULL DEFAULT 0,
    passed integer NOT NULL DEFAULT 0,
    warned integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    errored integer NOT NULL DEFAULT 0,
    by_user text NOT NULL DEFAULT current_user,
    client text NOT NULL DEFAULT current_setting('application_name')
);
COMMENT ON TABLE weir.check_run IS
    'One row per weir check; status running until it ends (a run killed midway stays running)';

CREATE TABLE IF NOT EXISTS weir.check_result (
    run_id bigint NOT NULL REFERENCES weir.check_run ON DELETE CASCADE,
    check_name text NOT NULL,
    path text NOT NULL,
    status text NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
    severity text NOT NULL CHECK (severity IN ('error', 'warn')),
    violations bigint,
    seconds numeric(12, 3) NOT NULL,
    sample jsonb,
    error text,
    finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, check_name),
    CHECK ((status = 'error') = (violations IS NULL))
);
COMMENT ON TABLE weir.check_result IS 'One row per check per run, appended as each check ends';
COMMENT ON COLUMN weir.check_result.violations IS 'Rows the check returned; NULL when it could not run';
COMMENT ON COLUMN weir.check_result.sample IS 'The first failing rows (the check''s show directive) as jsonb objects';
COMMENT ON COLUMN weir.check_result.error IS 'path:line: message of a check that could not run';

-- The latest result of each check (weir status), and a check's history, without a scan.
CREATE INDEX IF NOT EXISTS check_result_latest ON weir.check_result (check_name, run_id DESC);
