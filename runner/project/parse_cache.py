"""What parsing a model or check file found, kept between runs and keyed by the file's text.

Every run reads every model and check file with PostgreSQL's parser. Importing pglast and
parsing costs 0.05-0.1 s a run, a fifth of a build that has nothing to do. Like dbt's partial
parsing, Weir keeps what a successful parse found in `.weir/cache/parsed.json`, keyed by a
hash of the file's text, so an unchanged file is read without the parser. The key also holds
a hash of the code that parses and of pglast's version: upgrading or editing Weir starts a
new cache. A file that fails to parse is never cached, so its error is reported every run.
The cache is only an accelerator: if it cannot be read or written, Weir parses as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from runner.project.private import private_dir, write_private

_PARSING_MODULES = (
    "sqlfile.py", "statements.py", "models.py", "model_header.py", "model_select.py", "checks.py", "parse_cache.py",
    "indexes.py",
)
_MAX_ENTRIES = 5000  # beyond this, entries this run did not use are dropped


class ParseCache:
    """A project's cache of parse results: get() before parsing, put() after, save() when done."""

    def __init__(self, path: Path | None, code: str, entries: dict[str, dict[str, Any]]) -> None:
        self.path, self.code, self.entries = path, code, entries
        self.used: set[str] = set()
        self.changed = False

    @classmethod
    def open(cls, root: Path) -> ParseCache:
        """Return the cache of the project at `root` (empty if missing, unreadable or from other code)."""
        code = _code_version()
        path = root / ".weir" / "cache" / "parsed.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path, code, {})
        if not isinstance(document, dict) or document.get("code") != code:
            return cls(path, code, {})
        entries = document.get("entries")
        return cls(path, code, entries if isinstance(entries, dict) else {})

    def get(self, kind: str, text: str) -> dict[str, Any] | None:
        """Return what parsing `text` as a `kind` ("model", "check") found last time, or None."""
        key = _key(kind, text)
        found = self.entries.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def put(self, kind: str, text: str, found: dict[str, Any]) -> None:
        """Remember what parsing `text` as a `kind` found (JSON-serialisable)."""
        key = _key(kind, text)
        self.used.add(key)
        if self.entries.get(key) != found:
            self.entries[key] = found
            self.changed = True

    def save(self) -> None:
        """Write the cache if anything new was put, atomically; a failure to write is ignored."""
        if not self.changed or self.path is None:
            return
        entries = self.entries
        if len(entries) > _MAX_ENTRIES:
            entries = {key: value for key, value in entries.items() if key in self.used}
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            private_dir(self.path.parent, self.path.parent.parent)  # .weir/cache, in .weir: 0700
            write_private(partial, json.dumps({"code": self.code, "entries": entries}))
            os.replace(partial, self.path)  # concurrent runs: the last complete file wins
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            return
        self.changed = False


def _key(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()


@functools.cache
def _code_version() -> str:
    """Hash the modules that parse, and pglast's own __init__.py, without importing pglast.

    pglast's __init__.py holds its __version__, so an upgrade changes the hash. Finding the
    file takes 0.1 ms; asking importlib.metadata for the version reads every installed
    distribution's metadata (about 3 ms), after importing it (about 10 ms) where nothing has.
    """
    from importlib.util import find_spec

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _PARSING_MODULES:
        digest.update((here / name).read_bytes())
    spec = find_spec("pglast")
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError):
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()
