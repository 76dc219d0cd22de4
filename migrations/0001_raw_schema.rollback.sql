-- Undo 0001_raw_schema.sql. Without CASCADE: by now 0002-0005 are rolled back and the
-- schema is empty; if it is not, this fails rather than drop someone else's objects.

DROP FUNCTION raw.touch_updated_at();

DROP SCHEMA raw;
