-- weir: kind=view, tags="staging customers"
-- weir: description="Customers as the source system has them now, one row per account (raw.customers)."
-- weir: pii="email:email full_name"
-- Staging may hold the source's personal data as it is (the pii directive says so, and how a
-- masked view shows each column): only dim_customer reads it, and masks what analysts see.
SELECT
    c.customer_id, -- The customer's key in the source system (raw.customers).
    c.email, -- E-mail address; unique per customer.
    c.full_name, -- Name as the customer gave it.
    c.city, -- City of the customer's current address.
    c.country, -- Country of the customer's current address.
    c.created_at, -- When the customer's row was first written.
    c.updated_at -- When the customer's row last changed: a new dim_customer version.
FROM raw.customers AS c;
