-- The example warehouse's source system: an order-processing database in schema raw.
-- This migration creates the schema and the trigger function every raw table uses
-- to keep updated_at current; the tables follow in 0002-0004.

CREATE SCHEMA raw;

COMMENT ON SCHEMA raw IS
'Source system of the example warehouse: customers, products, orders and their items,'
' as an order-processing application writes them. Models read from here; nothing in'
' the warehouse writes to it.';

-- Incremental models and the SCD2 customer dimension find changed rows by updated_at,
-- so every real change must move it strictly forward:
-- * an UPDATE that sets updated_at itself keeps that value (the sample-data generator
--   replays simulated time this way);
-- * any other UPDATE gets now(), or one microsecond past the old value if that is
--   later, so a row stamped in the (simulated) future still moves forward.
-- The triggers fire only WHEN (OLD.* IS DISTINCT FROM NEW.*), so an UPDATE that
-- changes nothing leaves updated_at alone and a rebuild sees no new version.
CREATE FUNCTION raw.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := greatest(now(), OLD.updated_at + interval '1 microsecond');
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION raw.touch_updated_at() IS
'BEFORE UPDATE trigger: moves updated_at strictly forward on every real change,'
' unless the UPDATE sets updated_at itself.';
