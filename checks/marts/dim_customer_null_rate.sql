-- weir: tags="marts dimensions customers"
-- weir: description="No customer version lacks an e-mail, a name, a city or a country."
-- The source's columns are NOT NULL, but dim_customer's are not (it copies a SELECT's
-- columns): a summary row per column says how much is missing, where not_null would list
-- every row. A column the SELECT added later is NULL in older versions; allow that here
-- with a max_rate above 0.
SELECT * FROM weir.null_rate('marts.dim_customer', 'email', 0)
UNION ALL
SELECT * FROM weir.null_rate('marts.dim_customer', 'full_name', 0)
UNION ALL
SELECT * FROM weir.null_rate('marts.dim_customer', 'city', 0)
UNION ALL
SELECT * FROM weir.null_rate('marts.dim_customer', 'country', 0);
