"""CSV seeds: reference data (codes, mappings, calendars) kept as `seeds/<schema>/<name>.csv` and loaded with COPY.

- csvfile.py: what Python reads of a CSV (header, checksum, encoding; lines for messages)
- infer.py: a column's type from its values, when the types file does not declare it
- load.py: a changed seed into a new table, swapped in atomically with its record
- run.py: `weir seed`: the selected seeds, under the build's lock

Models read a seed's table like any relation; the model graph (runner.build.graph) makes
the seed upstream of them, and `weir build` loads the seeds its models read first.
"""

from runner.build.seeds.load import SeedColumn, SeedResult, columns_of, load_seeds
from runner.build.seeds.run import run_seeds, select_seeds

__all__ = ["SeedColumn", "SeedResult", "columns_of", "load_seeds", "run_seeds", "select_seeds"]
