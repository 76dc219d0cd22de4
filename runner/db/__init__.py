"""Talking to PostgreSQL: below everything that runs SQL, above only what the user wrote.

- connection.py: which database (--dsn, WEIR_DSN, DATABASE_URL, libpq, else embedded), connecting, redaction
- embedded.py: the embedded PostgreSQL in .weir/pgdata
- execute.py: a SQL file's statements, in one transaction or one by one, with timeouts and retries
- errors.py: the one place a PostgreSQL error becomes `path:line: message`
- locking.py: advisory locks that serialise runs of one kind
- ddl_locks.py: DDL on relations others read, under lock_timeout, retried with backoff
- workers.py: one connection per worker thread, made from the caller's
- statements.py: small helpers for the statements Weir sends itself

Nothing is imported here: each caller imports the module it needs, so `weir --help` and
`weir lint` never load psycopg.
"""
