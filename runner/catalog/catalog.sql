-- name: relations
-- Every table and view of the given schemas, with its description and a view's definition.
SELECT c.oid, n.nspname, c.relname,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                      WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' END,
       obj_description(c.oid, 'pg_class'),
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s)
  AND c.relkind IN ('r', 'p', 'v', 'm')
  AND NOT c.relispartition
ORDER BY n.nspname, c.relname;

-- name: columns
-- Each column: its type as written, the type of its elements, and the enum labels of that type.
SELECT a.attrelid, a.attnum, a.attname,
       format_type(a.atttypid, a.atttypmod),
       coalesce(base.typname, t.typname),
       t.typcategory = 'A',
       NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       a.attgenerated <> '',
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
       col_description(a.attrelid, a.attnum),
       (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder)
        FROM pg_enum e WHERE e.enumtypid = coalesce(base.oid, t.oid)),
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
-- an array's elements, or a domain's base type: what a contract maps
LEFT JOIN pg_type base ON base.oid = CASE WHEN t.typcategory = 'A' THEN t.typelem
                                          WHEN t.typtype = 'd' THEN t.typbasetype END
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum;

-- name: constraints
-- Keys, checks and foreign keys (NOT NULL, which PostgreSQL 18 also lists here, is a column's).
SELECT con.conrelid, con.conname,
       CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check'
                        WHEN 'f' THEN 'foreign key' WHEN 'x' THEN 'exclusion' END,
       coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
                 FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), '{}'),
       pg_get_constraintdef(con.oid, true),
       CASE WHEN con.contype = 'f' THEN fn.nspname || '.' || fc.relname END,
       coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
                 FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum), '{}')
FROM pg_constraint con
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.conrelid = ANY(%(oids)s) AND con.contype IN ('p', 'u', 'c', 'f', 'x')
ORDER BY con.conrelid, con.contype, con.conname;

-- name: indexes
SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisprimary
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY(%(oids)s)
ORDER BY i.indrelid, ic.relname;

-- name: schemas
-- Every schema a user made: not PostgreSQL's own, not an extension's temp space, not weir's.
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('information_schema', 'weir')
  AND nspname NOT LIKE 'pg\_%'
ORDER BY nspname;
