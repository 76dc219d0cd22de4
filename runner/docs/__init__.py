"""`weir docs`: the warehouse's documentation generated from its SQL and its catalog.

    from runner.docs import document_throwaway, write_all

    docs = document_throwaway(server_conn, Project.load())
    write_all(Path("docs/data"), docs.files)

The catalog comes from a throwaway database (migrations applied, models built with no data)
or from a live one, which adds row counts and run history (runner.docs.source).
"""

from runner.docs.files import stale_files, write_all
from runner.docs.run import Docs, check_docs, document_live, document_throwaway

__all__ = ["Docs", "check_docs", "document_live", "document_throwaway", "stale_files", "write_all"]
