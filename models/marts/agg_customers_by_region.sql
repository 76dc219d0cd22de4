-- weir: kind=view, tags="marts aggregates customers"
-- weir: description="Current customers per sales region and country; the seed ref.countries maps each country code."
-- A country missing from seeds/ref/countries.csv shows as region 'unmapped', not lost.
SELECT
    c.country, -- Country of the customers' current address, ISO 3166-1 alpha-2.
    coalesce(r.region, 'unmapped') AS region, -- Sales region of the country; 'unmapped' when ref.countries lacks it.
    coalesce(r.country_name, c.country) AS country_name, -- The country's name, or its code when unmapped.
    count(*) AS customers -- Current customers (their current dim_customer version) in the country.
FROM marts.dim_customer AS c
LEFT JOIN ref.countries AS r ON c.country = r.country_code
WHERE c.is_current
GROUP BY c.country, r.region, r.country_name;
