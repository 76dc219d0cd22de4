-- retention version 2: a partition leaves its model in one short transaction and is counted
-- and dropped in the next (runner/retention/). Between the two, its step is recorded with
-- rows_removed NULL: detached, not yet counted. The next weir retain finishes such a step
-- if the run that began it died.
ALTER TABLE weir.retention_step ALTER COLUMN rows_removed DROP NOT NULL;
COMMENT ON COLUMN weir.retention_step.rows_removed IS
    'Rows removed; NULL while a detached partition waits to be counted and dropped';
