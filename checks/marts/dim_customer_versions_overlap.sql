-- weir: tags="marts dimensions customers scd2", show=20
-- weir: description="SCD2 sanity: no two versions of a customer are valid at the same instant."
-- Versions of a key are ordered by valid_from (unique per key, a constraint); a version
-- overlaps an earlier one when any earlier version ends after it starts (an open one,
-- valid_to NULL, never ends). The running maximum catches overlaps with any earlier
-- version, not only the one just before. Gaps are fine: a deleted customer who comes
-- back has none between the close and the return. The constraints already guarantee one
-- current version per key and valid_from < valid_to; this is what they cannot express.
-- earlier_versions_end is NULL when an earlier version is still open (never ends).
SELECT
    v.customer_id,
    v.customer_key,
    v.valid_from,
    v.valid_to,
    v.previous_key,
    v.previous_valid_from,
    v.previous_valid_to,
    nullif(v.earlier_versions_end, 'infinity') AS earlier_versions_end
FROM (
    SELECT
        d.customer_id,
        d.customer_key,
        d.valid_from,
        d.valid_to,
        lag(d.customer_key) OVER w AS previous_key,
        lag(d.valid_from) OVER w AS previous_valid_from,
        lag(d.valid_to) OVER w AS previous_valid_to,
        max(coalesce(d.valid_to, 'infinity')) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            AS earlier_versions_end
    FROM marts.dim_customer AS d
    WINDOW w AS (PARTITION BY d.customer_id ORDER BY d.valid_from)
) AS v
WHERE v.earlier_versions_end > v.valid_from
ORDER BY v.customer_id, v.valid_from;
