-- weir: kind=view, tags="marts aggregates customers"
-- weir: description="Current customers per sales region and country; the seed ref.countries maps each country code."
-- A country missing from seeds/ref/countries.csv shows as region 'unmapped', not lost.
SELECT
    c.country,
    coalesce(r.region, 'unmapped') AS region,
    coalesce(r.country_name, c.country) AS country_name,
    count(*) AS customers
FROM marts.dim_customer AS c
LEFT JOIN ref.countries AS r ON c.country = r.country_code
WHERE c.is_current
GROUP BY c.country, r.region, r.country_name;
