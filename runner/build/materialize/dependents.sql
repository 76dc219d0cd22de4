-- Views (and materialized views) that read relation %(oid)s directly, with what it takes to
-- re-create them. Run with search_path = '' so every name in a definition is schema-qualified.
SELECT DISTINCT
    v.oid,
    n.nspname,
    v.relname,
    v.relkind,
    pg_get_viewdef(v.oid) AS definition,
    coalesce(v.reloptions, '{}') AS options
FROM pg_depend AS d
JOIN pg_rewrite AS r ON r.oid = d.objid
JOIN pg_class AS v ON v.oid = r.ev_class
JOIN pg_namespace AS n ON n.oid = v.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass
    AND d.refclassid = 'pg_class'::regclass
    AND d.refobjid = %(oid)s
    AND v.oid <> %(oid)s
ORDER BY n.nspname, v.relname
