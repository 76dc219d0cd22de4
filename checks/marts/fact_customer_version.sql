-- weir: tags="marts facts customers scd2", show=20
-- weir: description="Every fact row points at the one dim_customer version of its customer valid when the order was placed."
-- Point in time, as the fact's own join: a version is valid from valid_from until valid_to
-- (NULL: still current), and a customer's first version also covers the time before it
-- (the dimension starts a key's history at the first updated_at it saw, which can be
-- later than the customer's early orders). "The one": a version that overlaps another
-- version of its customer is reported too, since then two versions claim the order (see
-- marts/dim_customer_versions_overlap for the pairs).
-- Joined on customer_key, the dimension's primary key: one hash join over the fact. The
-- violations are a MATERIALIZED CTE, planned for all their rows: weir fetches the first
-- rows of a failing check with a LIMIT, and the planner, which expects most fact rows to
-- match this OR of conditions, would otherwise walk the fact's primary key with a nested
-- loop over every version to deliver them in order (over ten minutes at a million rows,
-- where the hash join takes 0.3 s).
WITH versions AS (
    SELECT
        d.customer_key,
        d.customer_id,
        d.valid_from,
        d.valid_to,
        CASE
            WHEN lag(d.valid_from) OVER w IS NULL THEN '-infinity'::timestamptz
            ELSE d.valid_from
        END AS covers_from,
        max(coalesce(d.valid_to, 'infinity')) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        > d.valid_from
        OR lead(d.valid_from) OVER w < coalesce(d.valid_to, 'infinity') AS overlaps_another
    FROM marts.dim_customer AS d
    WINDOW w AS (PARTITION BY d.customer_id ORDER BY d.valid_from)
),

violations AS MATERIALIZED (
    SELECT
        f.order_item_id,
        f.order_id,
        f.customer_id,
        f.customer_key,
        f.ordered_at,
        v.customer_id AS version_customer_id,
        v.valid_from AS version_valid_from,
        v.valid_to AS version_valid_to,
        CASE
            WHEN v.customer_key IS NULL THEN 'no such customer version'
            WHEN v.customer_id <> f.customer_id THEN 'version of another customer'
            WHEN f.ordered_at < v.covers_from OR f.ordered_at >= v.valid_to THEN 'version not valid at ordered_at'
            ELSE 'version overlaps another version of the customer'
        END AS problem
    FROM marts.fact_order_items AS f
    LEFT JOIN versions AS v ON f.customer_key = v.customer_key
    WHERE
        v.customer_key IS NULL
        OR v.customer_id <> f.customer_id
        OR f.ordered_at < v.covers_from
        OR f.ordered_at >= v.valid_to
        OR v.overlaps_another
)

SELECT
    v.order_item_id,
    v.order_id,
    v.customer_id,
    v.customer_key,
    v.ordered_at,
    v.version_customer_id,
    v.version_valid_from,
    v.version_valid_to,
    v.problem
FROM violations AS v
ORDER BY v.order_item_id;
