-- weir: model=staging.stg_customers
-- weir: description="Customers pass through as the source has them, one row per account."

-- weir: given=raw.customers
SELECT 1 AS customer_id, 'ada@example.com' AS email, 'Ada' AS full_name, 'Berlin' AS city, 'DE' AS country
UNION ALL SELECT 2, 'bo@example.com', 'Bo', 'Paris', 'FR';

-- weir: expect
SELECT 1 AS customer_id, 'ada@example.com' AS email, 'Ada' AS full_name, 'Berlin' AS city, 'DE' AS country
UNION ALL SELECT 2, 'bo@example.com', 'Bo', 'Paris', 'FR';
