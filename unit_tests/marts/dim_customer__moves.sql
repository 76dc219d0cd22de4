-- weir: model=marts.dim_customer
-- weir: description="A newer updated_at opens a new version; the old one closes at that instant."

-- weir: given=staging.stg_customers, snapshot=1
SELECT 1 AS customer_id, 'Berlin' AS city, '2024-01-01 00:00+00' AS updated_at
UNION ALL SELECT 2, 'Paris', '2024-01-01 00:00+00';

-- weir: given=staging.stg_customers, snapshot=2
SELECT 1 AS customer_id, 'Hamburg' AS city, '2024-02-01 00:00+00' AS updated_at
UNION ALL SELECT 2, 'Paris', '2024-01-01 00:00+00';

-- weir: given=staging.stg_customers, snapshot=3
SELECT 1 AS customer_id, 'Hamburg' AS city, '2024-02-01 00:00+00' AS updated_at
UNION ALL SELECT 2, 'Lyon', '2024-03-01 00:00+00';

-- weir: expect
SELECT 1 AS customer_id, 'Berlin' AS city, '2024-01-01 00:00+00' AS valid_from, '2024-02-01 00:00+00' AS valid_to,
    false AS is_current
UNION ALL SELECT 1, 'Hamburg', '2024-02-01 00:00+00', NULL, true
UNION ALL SELECT 2, 'Paris', '2024-01-01 00:00+00', '2024-03-01 00:00+00', false
UNION ALL SELECT 2, 'Lyon', '2024-03-01 00:00+00', NULL, true;
