-- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at, on_delete=close, surrogate_key=customer_key
-- weir: tags="marts dimensions customers"
-- weir: description="Customer history (SCD2): a version per change of a customer, valid_from to valid_to."
-- A newer updated_at makes a new version: a move to another city keeps the old address on
-- the orders placed before it. A deleted customer's current version is closed; one who
-- comes back under the same customer_id gets a new version.
SELECT
    c.customer_id, -- Natural key: the customer in the source system.
    c.email, -- E-mail address in this version.
    c.full_name, -- Name in this version.
    c.city, -- City in this version: orders placed while it was current keep it.
    c.country, -- Country in this version.
    c.created_at, -- When the customer was first written in the source.
    c.updated_at -- The source's updated_at that opened this version.
FROM staging.stg_customers AS c;
