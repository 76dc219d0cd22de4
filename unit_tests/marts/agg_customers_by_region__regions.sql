-- weir: model=marts.agg_customers_by_region
-- Current customers are counted per country with the seed's region and name; a country the
-- seed does not map shows as region 'unmapped' under its code; past versions are not counted.

-- weir: given=marts.dim_customer
SELECT 1 AS customer_id, 'NO' AS country, true AS is_current
UNION ALL SELECT 2, 'NO', true
UNION ALL SELECT 2, 'SE', false
UNION ALL SELECT 3, 'XX', true;

-- weir: given=ref.countries
SELECT 'NO' AS country_code, 'Norway' AS country_name, 'Nordics' AS region
UNION ALL SELECT 'SE', 'Sweden', 'Nordics';

-- weir: expect
SELECT 'NO' AS country, 'Nordics' AS region, 'Norway' AS country_name, 2 AS customers
UNION ALL SELECT 'XX', 'unmapped', 'XX', 1;
