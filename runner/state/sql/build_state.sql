-- Weir's record of model builds. Created on first use, idempotent.
CREATE SCHEMA IF NOT EXISTS weir;

CREATE TABLE IF NOT EXISTS weir.build_run (
    run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'success', 'failed', 'interrupted')),
    selectors text[] NOT NULL DEFAULT '{}',
    excludes text[] NOT NULL DEFAULT '{}',
    full_refresh boolean NOT NULL DEFAULT false,
    threads integer NOT NULL,
    by_user text NOT NULL DEFAULT current_user,
    client text NOT NULL DEFAULT current_setting('application_name')
);
COMMENT ON TABLE weir.build_run IS 'One row per weir build; status running until it ends (interrupted if it never did)';

CREATE TABLE IF NOT EXISTS weir.build_result (
    run_id bigint NOT NULL REFERENCES weir.build_run ON DELETE CASCADE,
    model text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL CHECK (status IN ('success', 'skipped', 'failed', 'upstream-failed')),
    inserted bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    deleted bigint NOT NULL DEFAULT 0,
    seconds numeric(12, 3) NOT NULL DEFAULT 0,
    error text,
    note text NOT NULL DEFAULT '',
    finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, model)
);
COMMENT ON TABLE weir.build_result IS
    'One row per model per run; a success row commits in the same transaction as the model''s data';

CREATE TABLE IF NOT EXISTS weir.build_input (
    model text PRIMARY KEY,
    inputs jsonb NOT NULL,
    built_run_id bigint NOT NULL,
    changed_run_id bigint NOT NULL,
    rebuilt_run_id bigint NOT NULL,
    built_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE weir.build_input IS
    'What each model''s last successful build read: source change tokens and upstream models'' markers';
COMMENT ON COLUMN weir.build_input.changed_run_id IS 'Last run whose build of this model changed its rows';
COMMENT ON COLUMN weir.build_input.rebuilt_run_id IS
    'Last run that rebuilt this model from scratch or with changed SQL: downstream incremental models follow';

-- Version 1 of weir.relation_token(); upgrade/build_state.2.sql replaces it.
-- A cheap fingerprint of what a source relation holds: NULL when Weir cannot tell
-- (missing relation, foreign table, statistics off), which means "changed".
-- Views are followed to the tables they read, and partitions and inheritance children
-- are included. Per table: relfilenode (TRUNCATE, rewrites), the statistics counters of
-- inserted, updated and deleted rows, and max() of every timestamp column that leads a
-- plain btree index (read from the index's end, so it costs a few page reads).
-- The counters reach pg_stat_all_tables when the writing session flushes its statistics,
-- up to a few seconds after its commit, so they may lag; max() does not, which makes
-- inserts and updates that set such a column exact. A delete is seen only through the
-- counter: one committed moments before a build can be missed by that build, and is
-- picked up by the next one, since a skip does not store new tokens.
CREATE OR REPLACE FUNCTION weir.relation_token(rel regclass)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base record;
    indexed record;
    latest text;
    entry jsonb;
    token jsonb := '[]'::jsonb;
    exact_hash_limit constant bigint := 16 * 1024 * 1024;  -- bytes; hashing 16 MB takes tens of ms
BEGIN
    IF rel IS NULL OR NOT current_setting('track_counts')::boolean THEN
        RETURN NULL;
    END IF;
    FOR base IN
        WITH RECURSIVE reached (oid) AS (
            SELECT rel::oid
            UNION
            SELECT below.oid
            FROM reached AS r
            CROSS JOIN LATERAL (
                SELECT d.refobjid
                FROM pg_rewrite AS w
                JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                WHERE w.ev_class = r.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.oid
                UNION ALL
                SELECT i.inhrelid FROM pg_inherits AS i WHERE i.inhparent = r.oid
            ) AS below (oid)
        )
        SELECT c.oid, c.relkind, c.relfilenode, s.n_tup_ins, s.n_tup_upd, s.n_tup_del
        FROM reached
        JOIN pg_class AS c ON c.oid = reached.oid
        LEFT JOIN pg_stat_all_tables AS s ON s.relid = c.oid
        ORDER BY c.oid
    LOOP
        IF base.relkind IN ('r', 'm') AND pg_relation_size(base.oid) <= exact_hash_limit THEN
            -- Statistics counters reach pg_stat_all_tables up to a second or so after a
            -- commit by a session that stays connected, so a token built on them could let
            -- a build skip a change made just before it (or redo one it already saw). A
            -- small table is hashed whole instead, which is exact.
            EXECUTE format('SELECT count(*) || '':'' || coalesce(sum(hashtextextended(t::text, 0)), 0)'
                           ' FROM ONLY %s AS t', base.oid::regclass)
            INTO latest;
            entry := jsonb_build_array(base.oid::regclass::text, base.oid, base.relfilenode, 'content', latest);
        ELSIF base.relkind IN ('r', 'm') THEN
            -- A large table needs an index led by a timestamp column, whose max() is exact for
            -- inserts and updates; deletes are seen through the counters (see above).
            entry := jsonb_build_array(base.oid::regclass::text, base.oid, base.relfilenode,
                                       base.n_tup_ins, base.n_tup_upd, base.n_tup_del);
            FOR indexed IN
                SELECT DISTINCT a.attname
                FROM pg_index AS i
                JOIN pg_class AS ic ON ic.oid = i.indexrelid
                JOIN pg_am AS am ON am.oid = ic.relam
                JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE i.indrelid = base.oid AND am.amname = 'btree' AND i.indisvalid AND i.indpred IS NULL
                  AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype)
                ORDER BY a.attname
            LOOP
                EXECUTE format('SELECT extract(epoch FROM max(%I))::text FROM ONLY %s',
                               indexed.attname, base.oid::regclass)
                INTO latest;
                entry := entry || jsonb_build_array(indexed.attname, latest);
            END LOOP;
            IF jsonb_array_length(entry) = 6 AND base.relkind = 'r' THEN
                RETURN NULL;  -- no exact signal for this table: never claim it is unchanged
            END IF;
        ELSIF base.relkind = 'v' THEN
            entry := jsonb_build_array(base.oid::regclass::text, base.oid,
                                       (SELECT md5(w.ev_action::text) FROM pg_rewrite AS w
                                        WHERE w.ev_class = base.oid AND w.rulename = '_RETURN'));
        ELSIF base.relkind IN ('p', 'S') THEN
            -- A partitioned table holds no rows itself (its partitions are reached);
            -- a sequence read by a view changes nothing a SELECT returns on its own.
            entry := jsonb_build_array(base.oid::regclass::text, base.oid, base.relkind);
        ELSE
            RETURN NULL;  -- a foreign table or anything else whose changes Weir cannot see
        END IF;
        token := token || jsonb_build_array(entry);
    END LOOP;
    RETURN token;
END
$$;
COMMENT ON FUNCTION weir.relation_token(regclass) IS
    'Change token of a source relation for skipping unchanged models; NULL means unknown';
