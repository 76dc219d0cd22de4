-- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at, on_delete=close, surrogate_key=customer_key
-- weir: tags="marts dimensions customers"
-- weir: description="Customer history (SCD2): a version per change of a customer, valid_from to valid_to."
-- A newer updated_at makes a new version: a move to another city keeps the old address on
-- the orders placed before it. A deleted customer's current version is closed; one who
-- comes back under the same customer_id gets a new version.
SELECT
    c.customer_id,
    c.email,
    c.full_name,
    c.city,
    c.country,
    c.created_at,
    c.updated_at
FROM staging.stg_customers AS c;
