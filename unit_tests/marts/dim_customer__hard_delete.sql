-- weir: model=marts.dim_customer
-- weir: description="A customer gone from the source has its current version closed (on_delete=close), not deleted."

-- weir: given=staging.stg_customers, snapshot=1
SELECT 1 AS customer_id, 'Berlin' AS city, '2024-01-01 00:00+00' AS updated_at
UNION ALL SELECT 2, 'Paris', '2024-01-01 00:00+00';

-- weir: given=staging.stg_customers, snapshot=2
SELECT 1 AS customer_id, 'Berlin' AS city, '2024-01-01 00:00+00' AS updated_at;

-- weir: expect
SELECT 1 AS customer_id, 'Berlin' AS city, '2024-01-01 00:00+00' AS valid_from, true AS is_current
UNION ALL SELECT 2, 'Paris', '2024-01-01 00:00+00', false;
