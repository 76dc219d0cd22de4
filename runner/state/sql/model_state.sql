-- Weir's record of built models and the "since when" of incremental models. Created on first use, idempotent.
CREATE SCHEMA IF NOT EXISTS weir;
COMMENT ON SCHEMA weir IS 'Run state of Weir: applied migrations, model builds, check results';

CREATE TABLE IF NOT EXISTS weir.model_state (
    model text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('view', 'table', 'incremental', 'scd2')),
    checksum text NOT NULL,
    built_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_id bigint,
    watermark timestamptz,
    lookback interval,
    rows_inserted bigint NOT NULL DEFAULT 0,
    rows_updated bigint NOT NULL DEFAULT 0,
    rows_deleted bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE weir.model_state IS
'One row per built model, written in the same transaction as the model''s data';
COMMENT ON COLUMN weir.model_state.model IS 'schema.name of the relation the model builds';
COMMENT ON COLUMN weir.model_state.checksum IS 'SHA-256 of the model file the last build used';
COMMENT ON COLUMN weir.model_state.watermark IS
'Incremental models: the greatest watermark column value loaded so far';

-- The stored "since when": watermark minus lookback, or -infinity before the first build.
-- Reads a table, so it is not inlined: weir.since() below calls it only outside a Weir build.
CREATE OR REPLACE FUNCTION weir.stored_since(model text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        (SELECT s.watermark - coalesce(s.lookback, interval '0')
         FROM weir.model_state AS s
         WHERE s.model = $1),
        '-infinity'::timestamptz
    )
$$;

-- Use in an incremental model:  WHERE src.updated_at > weir.since('marts.fact_order_items')
-- During a Weir build of that model the transaction-local settings weir.rebuilding (a rebuild
-- from scratch: -infinity) or weir.building and weir.since (the value read once at the start)
-- answer without touching a table. The body has no subquery, so PostgreSQL inlines it and a
-- sequential scan pays a settings lookup per row instead of a function call with a query
-- (measured on 5M rows: 0.1 us a row instead of 5 us). Being STABLE, it is evaluated once for
-- an index scan on the source column, and the planner estimates rows with its current value,
-- so a 1% batch is planned as 1%. In psql it falls back to weir.stored_since().
CREATE OR REPLACE FUNCTION weir.since(model text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN current_setting('weir.rebuilding', true) = $1 THEN '-infinity'::timestamptz
        WHEN current_setting('weir.building', true) = $1 THEN current_setting('weir.since')::timestamptz
        ELSE weir.stored_since($1)
    END
$$;
COMMENT ON FUNCTION weir.since(text) IS
'Watermark minus lookback of an incremental model (schema.name); -infinity when it is built from scratch';
