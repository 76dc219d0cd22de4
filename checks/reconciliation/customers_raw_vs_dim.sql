-- weir: tags="reconciliation customers scd2", show=20
-- weir: description="dim_customer's current versions are raw.customers as it is now: same keys, same attributes."
-- A customer in raw without a current version was never built (or was closed wrongly); a
-- current version without a raw customer should have been closed when it was deleted; a
-- current version whose attributes differ from raw missed a change. dim_customer stores
-- the e-mail masked, so raw's is compared, and shown, through the same mask.
WITH current_versions AS (
    SELECT
        d.customer_id,
        d.customer_key,
        d.email,
        d.full_name,
        d.city,
        d.country,
        d.created_at,
        d.updated_at
    FROM marts.dim_customer AS d
    WHERE d.is_current
),

customer_ids AS (
    SELECT c.customer_id FROM raw.customers AS c
    UNION
    SELECT v.customer_id FROM current_versions AS v
)

SELECT
    k.customer_id,
    d.customer_key,
    c.city AS raw_city,
    d.city AS dim_city,
    c.country AS raw_country,
    d.country AS dim_country,
    c.updated_at AS raw_updated_at,
    d.updated_at AS dim_updated_at,
    d.email AS dim_email,
    weir.mask_email(c.email) AS raw_email,
    CASE
        WHEN d.customer_key IS NULL THEN 'no current version'
        WHEN c.email IS NULL THEN 'current version of a deleted customer'
        ELSE 'current version differs from raw'
    END AS problem
FROM customer_ids AS k
LEFT JOIN raw.customers AS c ON k.customer_id = c.customer_id
LEFT JOIN current_versions AS d ON k.customer_id = d.customer_id
WHERE
    c.email IS NULL
    OR d.customer_key IS NULL
    OR (weir.mask_email(c.email), c.full_name, c.city, c.country, c.created_at, c.updated_at)
    IS DISTINCT FROM (d.email, d.full_name, d.city, d.country, d.created_at, d.updated_at)
ORDER BY k.customer_id;
