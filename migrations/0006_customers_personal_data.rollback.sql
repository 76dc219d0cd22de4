-- Undo 0006_customers_personal_data.sql: the comments as 0002 wrote them.

COMMENT ON COLUMN raw.customers.email IS 'Login e-mail address, lower case, unique.';
COMMENT ON COLUMN raw.customers.full_name IS 'Name as the customer entered it.';
