-- weir: model=marts.dim_customer
-- weir: description="The e-mail address reaches the dimension masked, its first letter and domain kept; the name as is."

-- weir: given=staging.stg_customers
SELECT 1 AS customer_id, 'ada.lovelace@example.com' AS email, 'Ada Lovelace' AS full_name,
    '2024-01-01 00:00+00' AS updated_at
UNION ALL SELECT 2, 'bo@example.org', 'Bo', '2024-01-01 00:00+00';

-- weir: expect
SELECT 1 AS customer_id, 'a***@example.com' AS email, 'Ada Lovelace' AS full_name
UNION ALL SELECT 2, 'b***@example.org', 'Bo';
