-- build_state version 4: each model's result records how many times it was retried after
-- a transient fault (a lost connection, a server restart, a deadlock, a serialization
-- failure or a lock timeout; runner/db/retry.py). Rows of earlier runs count none.
ALTER TABLE weir.build_result
    ADD COLUMN IF NOT EXISTS retries integer NOT NULL DEFAULT 0 CHECK (retries >= 0);
COMMENT ON COLUMN weir.build_result.retries IS
    'How many times the model was tried again after a transient fault before this outcome';
