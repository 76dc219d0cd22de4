"""Writing the docs directory whole or not at all, and comparing it with what would be written."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from runner.errors import DocsError


def write_all(out: Path, files: dict[str, str]) -> None:
    """Replace directory `out` with exactly `files`: written into a temporary sibling, then renamed into place.

    A reader sees the old directory or the new one, never a half-written one. Files in `out`
    that are not docs (a README someone added) are kept.
    """
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise DocsError(f"cannot write the docs to {out}: {exc.strerror or exc}; choose another --out") from None
    old = parent / f"{staging.name}.old"
    try:
        if out.is_dir():
            for kept in sorted(out.iterdir()):
                if kept.name not in files and kept.is_file():
                    shutil.copy2(kept, staging / kept.name)
        for name, text in files.items():
            (staging / name).write_bytes(text.encode("utf-8"))
        staging.chmod(0o755)
        if out.exists():
            os.rename(out, old)
        os.rename(staging, out)
    except OSError as exc:
        if old.exists() and not out.exists():
            os.rename(old, out)
        raise DocsError(f"cannot write the docs to {out}: {exc.strerror or exc}; nothing was changed") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def stale_files(out: Path, files: dict[str, str]) -> list[str]:
    """Return the names of `files` that are missing from `out` or differ from what is there, sorted."""
    stale = []
    for name, text in files.items():
        try:
            current = (out / name).read_bytes()
        except OSError:
            stale.append(name)
            continue
        if current != text.encode("utf-8"):
            stale.append(name)
    return stale
