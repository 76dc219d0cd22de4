-- Every view that reads relation %(oid)s, directly or through other views:
-- the views a DROP ... CASCADE of %(oid)s would take with it.
WITH RECURSIVE dependent (oid) AS (
    SELECT %(oid)s::oid
    UNION
    SELECT r.ev_class
    FROM dependent AS up
    JOIN pg_depend AS d
        ON d.refobjid = up.oid
        AND d.refclassid = 'pg_class'::regclass
        AND d.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite AS r ON r.oid = d.objid
    WHERE r.ev_class <> up.oid
)
SELECT
    n.nspname || '.' || c.relname AS qualified
FROM dependent AS x
JOIN pg_class AS c ON c.oid = x.oid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
ORDER BY 1
