-- The user schema of the current database as (key, definition) rows: one row per
-- object, the definition in PostgreSQL's own words (format_type, pg_get_*def).
-- Run with an empty search_path so every name in a definition is schema-qualified.
-- Left out: system schemas, Weir's own `weir` schema, yoyo's bookkeeping tables,
-- objects that belong to an extension (the extension row stands for them),
-- row data and sequence values. Column order is left out on purpose: a rollback
-- of DROP COLUMN can only add the column back at the end.
WITH ns AS (
    SELECT n.oid, n.nspname, n.nspacl
    FROM pg_namespace AS n
    WHERE n.nspname NOT LIKE 'pg\_%'
      AND n.nspname NOT IN ('information_schema', 'weir')
),

member AS (
    -- Objects created by CREATE EXTENSION.
    SELECT d.classid, d.objid
    FROM pg_depend AS d
    WHERE d.deptype = 'e'
),

rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions, c.relacl,
           c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition,
           ns.nspname, format('%I.%I', ns.nspname, c.relname) AS name
    FROM pg_class AS c
    JOIN ns ON ns.oid = c.relnamespace
    WHERE c.relname NOT LIKE '\_yoyo\_%'
      AND c.relname <> 'yoyo_lock'
      AND NOT EXISTS (
          SELECT FROM member AS m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid
      )
),

objects AS (
    SELECT 'pg_namespace'::regclass AS classid, ns.oid AS objid, 0 AS objsubid,
           'schema ' || quote_ident(ns.nspname) AS key,
           'schema' AS definition,
           ns.nspacl::text AS acl
    FROM ns

    UNION ALL
    -- Tables, views, materialized views, sequences and foreign tables.
    SELECT 'pg_class'::regclass, rel.oid, 0,
           CASE rel.relkind
               WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence '
               WHEN 'f' THEN 'foreign table ' ELSE 'table '
           END || rel.name,
           CASE
               WHEN rel.relkind IN ('v', 'm') THEN
                   concat_ws(' ', pg_get_viewdef(rel.oid),
                             'with (' || array_to_string(rel.reloptions, ', ') || ')')
               WHEN rel.relkind = 'S' THEN (
                   SELECT concat_ws(' ', format_type(s.seqtypid, NULL), 'start', s.seqstart,
                                    'increment', s.seqincrement, 'minvalue', s.seqmin, 'maxvalue', s.seqmax,
                                    'cache', s.seqcache, CASE WHEN s.seqcycle THEN 'cycle' ELSE 'no cycle' END,
                                    CASE WHEN rel.relpersistence = 'u' THEN 'unlogged' END,
                                    (SELECT 'owned by ' || format('%s.%I', d.refobjid::regclass, a.attname)
                                     FROM pg_depend AS d
                                     JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                     WHERE d.classid = 'pg_class'::regclass AND d.objid = rel.oid
                                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
                   FROM pg_sequence AS s WHERE s.seqrelid = rel.oid)
               ELSE concat_ws(' ',
                   CASE rel.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' END,
                   CASE rel.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table'
                                    WHEN 'c' THEN 'composite type' ELSE 'table' END,
                   'partition by ' || pg_get_partkeydef(rel.oid),
                   (SELECT 'partition of ' || i.inhparent::regclass::text || ' '
                           || pg_get_expr(c.relpartbound, c.oid)
                    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
                    WHERE i.inhrelid = rel.oid AND rel.relispartition),
                   (SELECT 'inherits (' || string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno) || ')'
                    FROM pg_inherits AS i WHERE i.inhrelid = rel.oid AND NOT rel.relispartition),
                   'with (' || array_to_string(rel.reloptions, ', ') || ')',
                   CASE WHEN rel.relrowsecurity THEN 'row level security' END,
                   CASE WHEN rel.relforcerowsecurity THEN 'force row level security' END,
                   CASE rel.relreplident WHEN 'n' THEN 'replica identity nothing' WHEN 'f' THEN 'replica identity full'
                                         WHEN 'i' THEN 'replica identity using index' END)
           END,
           rel.relacl::text
    FROM rel
    WHERE rel.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')

    UNION ALL
    SELECT 'pg_class'::regclass, a.attrelid, a.attnum,
           'column ' || rel.name || '.' || quote_ident(a.attname),
           concat_ws(' ',
               format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attcollation <> t.typcollation
                    THEN 'collate ' || (SELECT format('%I.%I', cn.nspname, co.collname)
                                        FROM pg_collation AS co
                                        JOIN pg_namespace AS cn ON cn.oid = co.collnamespace
                                        WHERE co.oid = a.attcollation) END,
               CASE WHEN a.attnotnull THEN 'not null' END,
               CASE WHEN a.attgenerated = '' THEN 'default ' || pg_get_expr(ad.adbin, ad.adrelid)
                    ELSE 'generated always as (' || pg_get_expr(ad.adbin, ad.adrelid) || ')'
                         || CASE a.attgenerated WHEN 's' THEN ' stored' ELSE ' virtual' END END,
               CASE a.attidentity WHEN 'a' THEN 'generated always as identity'
                                  WHEN 'd' THEN 'generated by default as identity' END),
           a.attacl::text
    FROM rel
    JOIN pg_attribute AS a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type AS t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE rel.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')

    UNION ALL
    -- Constraints of tables and of domains; NOT NULL is part of the column (PostgreSQL 18
    -- also lists it here).
    SELECT 'pg_constraint'::regclass, con.oid, 0,
           'constraint ' || coalesce(rel.name, format('%I.%I', tn.nspname, ty.typname))
           || '.' || quote_ident(con.conname),
           pg_get_constraintdef(con.oid)
           || CASE WHEN con.convalidated THEN '' ELSE ' (not validated)' END,
           NULL
    FROM pg_constraint AS con
    LEFT JOIN rel ON rel.oid = con.conrelid
    LEFT JOIN pg_type AS ty ON ty.oid = con.contypid
    LEFT JOIN ns AS tn ON tn.oid = ty.typnamespace
    WHERE con.contype <> 'n'
      AND (rel.oid IS NOT NULL OR (tn.oid IS NOT NULL AND con.contypid <> 0))

    UNION ALL
    -- Indexes that a primary key, unique or exclusion constraint owns are that constraint.
    SELECT 'pg_class'::regclass, i.indexrelid, 0,
           'index ' || format('%I.%I', rel.nspname, ic.relname),
           pg_get_indexdef(i.indexrelid)
           || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END
           || CASE WHEN i.indisclustered THEN ' (clustered)' ELSE '' END,
           NULL
    FROM pg_index AS i
    JOIN rel ON rel.oid = i.indrelid
    JOIN pg_class AS ic ON ic.oid = i.indexrelid
    WHERE NOT EXISTS (
        SELECT FROM pg_constraint AS con
        WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
    )

    UNION ALL
    SELECT 'pg_trigger'::regclass, tg.oid, 0,
           'trigger ' || rel.name || '.' || quote_ident(tg.tgname),
           pg_get_triggerdef(tg.oid)
           || CASE tg.tgenabled WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (enabled replica)'
                                WHEN 'A' THEN ' (enabled always)' ELSE '' END,
           NULL
    FROM pg_trigger AS tg
    JOIN rel ON rel.oid = tg.tgrelid
    WHERE NOT tg.tgisinternal

    UNION ALL
    SELECT 'pg_rewrite'::regclass, ru.oid, 0,
           'rule ' || rel.name || '.' || quote_ident(ru.rulename),
           pg_get_ruledef(ru.oid),
           NULL
    FROM pg_rewrite AS ru
    JOIN rel ON rel.oid = ru.ev_class
    WHERE ru.rulename <> '_RETURN'

    UNION ALL
    SELECT 'pg_policy'::regclass, po.oid, 0,
           'policy ' || rel.name || '.' || quote_ident(po.polname),
           concat_ws(' ',
               CASE WHEN po.polpermissive THEN 'permissive' ELSE 'restrictive' END,
               'for ' || CASE po.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                                        WHEN 'd' THEN 'delete' ELSE 'all' END,
               'to ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END,
                                           ', ' ORDER BY 1)
                         FROM unnest(po.polroles) AS r),
               'using (' || pg_get_expr(po.polqual, po.polrelid) || ')',
               'with check (' || pg_get_expr(po.polwithcheck, po.polrelid) || ')'),
           NULL
    FROM pg_policy AS po
    JOIN rel ON rel.oid = po.polrelid

    UNION ALL
    SELECT 'pg_statistic_ext'::regclass, st.oid, 0,
           'statistics ' || format('%I.%I', ns.nspname, st.stxname),
           pg_get_statisticsobjdef(st.oid),
           NULL
    FROM pg_statistic_ext AS st
    JOIN ns ON ns.oid = st.stxnamespace

    UNION ALL
    SELECT 'pg_proc'::regclass, p.oid, 0,
           CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END
           || format('%I.%I', ns.nspname, p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           CASE WHEN p.prokind = 'a' THEN (
                    SELECT concat_ws(' ', 'sfunc', ag.aggtransfn::regproc::text,
                                     'stype', format_type(ag.aggtranstype, NULL),
                                     'finalfunc ' || nullif(ag.aggfinalfn, 0)::regproc::text,
                                     'combinefunc ' || nullif(ag.aggcombinefn, 0)::regproc::text,
                                     'initcond ' || quote_literal(ag.agginitval))
                    FROM pg_aggregate AS ag WHERE ag.aggfnoid = p.oid)
                ELSE pg_get_functiondef(p.oid) END,
           p.proacl::text
    FROM pg_proc AS p
    JOIN ns ON ns.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT FROM member AS m WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid)

    UNION ALL
    -- Enums, domains, ranges and composite types; not the row types of tables or array types.
    SELECT 'pg_type'::regclass, ty.oid, 0,
           'type ' || format('%I.%I', ns.nspname, ty.typname),
           CASE ty.typtype
               WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                          FROM pg_enum AS e WHERE e.enumtypid = ty.oid) || ')'
               WHEN 'd' THEN concat_ws(' ', 'domain over', format_type(ty.typbasetype, ty.typtypmod),
                                       CASE WHEN ty.typnotnull THEN 'not null' END,
                                       'default ' || ty.typdefault)
               WHEN 'r' THEN (SELECT concat_ws(' ', 'range of', format_type(rg.rngsubtype, NULL),
                                               'multirange ' || format_type(rg.rngmultitypid, NULL))
                              FROM pg_range AS rg WHERE rg.rngtypid = ty.oid)
               WHEN 'c' THEN 'composite'
               ELSE 'base type'
           END,
           ty.typacl::text
    FROM pg_type AS ty
    JOIN ns ON ns.oid = ty.typnamespace
    WHERE ty.typtype IN ('b', 'c', 'd', 'e', 'r')
      AND (ty.typrelid = 0 OR EXISTS (SELECT FROM rel WHERE rel.oid = ty.typrelid AND rel.relkind = 'c'))
      AND NOT EXISTS (SELECT FROM pg_type AS el WHERE el.typarray = ty.oid)
      AND NOT EXISTS (SELECT FROM member AS m WHERE m.classid = 'pg_type'::regclass AND m.objid = ty.oid)

    UNION ALL
    SELECT 'pg_extension'::regclass, x.oid, 0,
           'extension ' || quote_ident(x.extname),
           'version ' || x.extversion || ' in schema ' || x.extnamespace::regnamespace::text,
           NULL
    FROM pg_extension AS x
)

SELECT o.key, o.definition
FROM objects AS o

UNION ALL
SELECT 'comment ' || o.key, d.description
FROM objects AS o
JOIN pg_description AS d ON d.classoid = o.classid AND d.objoid = o.objid AND d.objsubid = o.objsubid

UNION ALL
SELECT 'privileges ' || o.key, o.acl
FROM objects AS o
WHERE o.acl IS NOT NULL
