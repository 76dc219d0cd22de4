-- build_state version 3: exact change tokens for tables of any size, without reading them.
-- Weir puts a statement-level trigger (weir_source_write, AFTER INSERT, UPDATE, DELETE or
-- TRUNCATE, FOR EACH STATEMENT, ENABLE ALWAYS) on each source table it may alter; the
-- trigger adds a row (table, writing transaction) to weir.source_write. Being written in
-- the writer's transaction, the row commits with the write or rolls back with it, unlike
-- the statistics counters, which reach pg_stat_all_tables up to seconds after a commit,
-- are not transactional and can be reset. A table's token is the number of transactions
-- that wrote it, which grows with every committed write and never otherwise: reading it
-- reads one index entry or a few, whatever the table's size.
-- One row per writing transaction, never an UPDATE of a shared counter: concurrent writers
-- of one table do not queue on a row lock, and cannot deadlock on one.
-- What the trigger cannot see, so such a table falls back to the version 2 token:
-- a partition or an inheritance child (a statement on the parent fires only the parent's
-- trigger), a table fed by logical replication (its apply worker fires no statement
-- triggers), a materialized view, and a table whose trigger Weir could not create (not
-- its owner, or its lock not granted within a second).
-- The token also holds the table's relfilenode (a rewrite by ALTER TABLE ... TYPE ... USING
-- changes values without DML; VACUUM FULL then costs a needless build), its columns (a
-- rename changes what a model reads), and the trigger's oid and row version (xmin), so
-- dropping, disabling and re-enabling it in between is noticed.

CREATE TABLE IF NOT EXISTS weir.source_write (
    relid oid NOT NULL,
    xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
    writes bigint NOT NULL DEFAULT 1 CHECK (writes > 0),
    PRIMARY KEY (relid, xact)
);
COMMENT ON TABLE weir.source_write IS
    'A row per transaction that wrote a source table (trigger weir_source_write); writes > 1 after compaction';

-- SECURITY DEFINER: a role writing a source table needs no privilege on weir.*.
CREATE OR REPLACE FUNCTION weir.note_source_write()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO weir.source_write (relid) VALUES (TG_RELID) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION weir.note_source_write() IS
    'Trigger of source tables: records that this transaction wrote the table (weir.relation_token())';

-- The tables under a relation: itself, what its views read, its partitions and children.
-- No SET clause and catalog names qualified, so the planner inlines it into its callers.
CREATE OR REPLACE FUNCTION weir.base_relations(rel regclass)
RETURNS TABLE (oid oid, relkind "char", relfilenode oid)
LANGUAGE sql
STABLE
AS $$
    WITH RECURSIVE reached (oid) AS (
        SELECT rel::oid
        UNION
        SELECT below.oid
        FROM reached AS r
        CROSS JOIN LATERAL (
            SELECT d.refobjid
            FROM pg_catalog.pg_rewrite AS w
            JOIN pg_catalog.pg_depend AS d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid
            WHERE w.ev_class = r.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
              AND d.refobjid OPERATOR(pg_catalog.<>) r.oid
            UNION ALL
            SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i WHERE i.inhparent = r.oid
        ) AS below (oid)
    )
    SELECT c.oid, c.relkind, c.relfilenode
    FROM reached
    JOIN pg_catalog.pg_class AS c ON c.oid = reached.oid
    ORDER BY c.oid
$$;

-- Whether the trigger can see every write of table `rel` (see the top of this file).
CREATE OR REPLACE FUNCTION weir.trackable(rel oid)
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT c.relkind = 'r' AND NOT c.relispartition
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits AS i WHERE i.inhrelid = c.oid)
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_subscription_rel AS s WHERE s.srrelid = c.oid)
    FROM pg_catalog.pg_class AS c
    WHERE c.oid = rel
$$;

-- Put the trigger on every trackable table under `rels` that lacks it (or has it other than
-- ENABLE ALWAYS); return how many got it. A table Weir may not alter, or whose lock is not
-- granted within a second, is left as it is and keeps the version 2 token. The setting
-- weir.track_writes = off (e.g. ALTER DATABASE ... SET weir.track_writes = off) turns this off.
-- Creating the trigger counts as a write, so a table dropped and created again under a
-- recycled oid never gives an earlier token back.
CREATE OR REPLACE FUNCTION weir.track_writes(rels regclass[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
DECLARE
    base record;
    tracked integer := 0;
BEGIN
    IF coalesce(current_setting('weir.track_writes', true), '') IN ('off', 'false', '0') THEN
        RETURN 0;
    END IF;
    FOR base IN
        SELECT DISTINCT b.oid
        FROM unnest(rels) AS r (rel)
        CROSS JOIN LATERAL weir.base_relations(r.rel) AS b
        WHERE weir.trackable(b.oid)
          AND NOT EXISTS (SELECT FROM pg_trigger AS t
                          WHERE t.tgrelid = b.oid AND t.tgname = 'weir_source_write' AND t.tgenabled = 'A')
    LOOP
        BEGIN
            EXECUTE format('DROP TRIGGER IF EXISTS weir_source_write ON %s', base.oid::regclass);
            EXECUTE format('CREATE TRIGGER weir_source_write'
                           ' AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION weir.note_source_write()', base.oid::regclass);
            EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER weir_source_write', base.oid::regclass);
            INSERT INTO weir.source_write (relid) VALUES (base.oid) ON CONFLICT DO NOTHING;
            tracked := tracked + 1;
        EXCEPTION WHEN insufficient_privilege OR lock_not_available OR object_not_in_prerequisite_state THEN
            NULL;  -- not this table's owner, or busy: it keeps the version 2 token
        END;
    END LOOP;
    RETURN tracked;
END
$$;
COMMENT ON FUNCTION weir.track_writes(regclass[]) IS
    'Put Weir''s write-recording trigger on the source tables under these relations; weir.track_writes=off skips';

-- Fold a table's rows of weir.source_write into one, keeping their sum, so reading a token
-- stays an index lookup of a row or a few. Only committed rows are visible to the DELETE, and
-- a concurrent writer's row is not, so the sum of every table's writes never goes down.
CREATE OR REPLACE FUNCTION weir.compact_source_writes()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH folded AS (
        DELETE FROM weir.source_write AS w
        WHERE w.relid IN (SELECT relid FROM weir.source_write GROUP BY relid HAVING count(*) > 1)
        RETURNING w.relid, w.writes
    )
    INSERT INTO weir.source_write (relid, writes)
    SELECT relid, sum(writes) FROM folded GROUP BY relid
$$;

-- A cheap fingerprint of what a source relation holds: NULL when Weir cannot tell
-- (missing relation, foreign table, statistics off), which means "changed".
-- Views are followed to the tables they read, and partitions and inheritance children
-- are included. Per table with Weir's trigger (above): relfilenode, columns, the trigger's
-- identity and the count of transactions that wrote it, which is exact at any size.
-- Otherwise, as in version 2: a table under 16 MB is exact too, its row versions hashed;
-- a larger one has relfilenode (TRUNCATE, rewrites), the statistics counters of
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
    trigger_row record;
    latest text;
    entry jsonb;
    token jsonb := '[]'::jsonb;
    -- Bytes; hashing 16 MB of row versions takes tens of ms. The setting
    -- weir.token_hash_limit overrides it (0 makes every table use the counters).
    exact_hash_limit constant bigint :=
        coalesce(nullif(current_setting('weir.token_hash_limit', true), '')::bigint, 16 * 1024 * 1024);
BEGIN
    IF rel IS NULL THEN
        RETURN NULL;
    END IF;
    FOR base IN
        -- The counters straight from their functions: joining pg_stat_all_tables, a view
        -- with a GROUP BY, would compute them for every relation of the database.
        SELECT b.oid, b.relkind, b.relfilenode, pg_stat_get_tuples_inserted(b.oid) AS n_tup_ins,
               pg_stat_get_tuples_updated(b.oid) AS n_tup_upd, pg_stat_get_tuples_deleted(b.oid) AS n_tup_del
        FROM weir.base_relations(rel) AS b
        ORDER BY b.oid
    LOOP
        SELECT t.oid, t.xmin INTO trigger_row
        FROM pg_trigger AS t
        WHERE t.tgrelid = base.oid AND t.tgname = 'weir_source_write' AND t.tgenabled = 'A';
        IF FOUND AND weir.trackable(base.oid) THEN
            entry := jsonb_build_array(
                base.oid::regclass::text, base.oid, base.relfilenode, 'writes',
                (SELECT coalesce(sum(w.writes), 0) FROM weir.source_write AS w WHERE w.relid = base.oid),
                trigger_row.oid, trigger_row.xmin::text,
                (SELECT md5(string_agg(a.attnum || ' ' || a.attname || ' ' || a.atttypid || ' ' || a.atttypmod
                                       || ' ' || a.attisdropped, ',' ORDER BY a.attnum))
                 FROM pg_attribute AS a WHERE a.attrelid = base.oid AND a.attnum > 0));
        ELSIF base.relkind IN ('r', 'm') AND pg_relation_size(base.oid) < exact_hash_limit THEN
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
            IF NOT current_setting('track_counts')::boolean THEN
                RETURN NULL;  -- the counters below stand still
            END IF;
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
