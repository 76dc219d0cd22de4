-- weir: tags="raw customers", show=20
-- weir: description="Every customer's e-mail address is unique: it is the login, and dim_customer follows it."
-- The source has a UNIQUE constraint today; this check keeps the warehouse honest if an
-- export or a replica ever arrives without it. Rows come sorted by e-mail, copies together.
SELECT * FROM weir.unique_rows(NULL::raw.customers, 'email');
