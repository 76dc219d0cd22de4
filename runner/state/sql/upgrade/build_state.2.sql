-- build_state version 2: weir.relation_token() hashes a small table's row versions
-- (count, ctid and xmin) instead of every row's text, about three times cheaper for the
-- same exactness. Tokens stored by version 1 differ, so each model is built once more after
-- the upgrade, then skipped as before.

-- A cheap fingerprint of what a source relation holds: NULL when Weir cannot tell
-- (missing relation, foreign table, statistics off), which means "changed".
-- Views are followed to the tables they read, and partitions and inheritance children
-- are included. Per table: relfilenode (TRUNCATE, rewrites), the statistics counters of
-- inserted, updated and deleted rows, and max() of every timestamp column that leads a
-- plain btree index (read from the index's end, so it costs a few page reads);
-- a table under 16 MB is exact instead: its row versions are hashed.
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
    -- Bytes; hashing 16 MB of row versions takes tens of ms. The setting
    -- weir.token_hash_limit overrides it (0 makes every table use the counters).
    exact_hash_limit constant bigint :=
        coalesce(nullif(current_setting('weir.token_hash_limit', true), '')::bigint, 16 * 1024 * 1024);
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
        IF base.relkind IN ('r', 'm') AND pg_relation_size(base.oid) < exact_hash_limit THEN
            -- Statistics counters reach pg_stat_all_tables up to a second or so after a
            -- commit by a session that stays connected, so a token built on them could let
            -- a build skip a change made just before it (or redo one it already saw). A
            -- small table's row versions are hashed instead, which is exact: an insert or
            -- update writes a new row version stamped with the writing transaction (xmin),
            -- one committed after the last token was read, and a delete removes one, so any
            -- change alters the count or the set of (ctid, xmin). ctid keeps the set exact
            -- even once xids wrap around. Hashing these rather than each row's text is
            -- about three times cheaper; an UPDATE that rewrites a row unchanged counts as
            -- a change, which costs a build, never a wrong skip.
            EXECUTE format('SELECT count(*) || '':'' || coalesce(sum(hashtextextended(ctid::text, xmin::text::bigint)), 0)'
                           ' FROM ONLY %s', base.oid::regclass)
            INTO latest;
            entry := jsonb_build_array(base.oid::regclass::text, base.oid, base.relfilenode, 'versions', latest);
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
