-- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at, on_delete=close, surrogate_key=customer_key
-- weir: tags="marts dimensions customers", pii="full_name"
-- weir: description="Customer history (SCD2): a version per change of a customer, valid_from to valid_to."
-- A newer updated_at makes a new version: a move to another city keeps the old address on
-- the orders placed before it. A deleted customer's current version is closed; one who
-- comes back under the same customer_id gets a new version.
-- Personal data: the e-mail address is stored masked (weir.mask_email needs no key), so no
-- raw address reaches the marts; the name is kept, for customer service, and declared PII:
-- the analysts' masked view (weir grants) shows it redacted.
SELECT
    c.customer_id, -- Natural key: the customer in the source system.
    c.full_name, -- Name in this version.
    c.city, -- City in this version: orders placed while it was current keep it.
    c.country, -- Country in this version.
    c.created_at, -- When the customer was first written in the source.
    c.updated_at, -- The source's updated_at that opened this version.
    weir.mask_email(c.email) AS email -- E-mail address in this version, masked: j***@example.com.
FROM staging.stg_customers AS c;
