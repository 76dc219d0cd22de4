""".weir/, Weir's private state: directories 0700 and files 0600, whatever the umask.

The parse cache and the embedded server live there; other users of the machine have no
business reading either. A directory made wider by hand or by an older Weir is tightened
the next time Weir writes in it. Under root, `.weir` itself is 0711 instead: the embedded
server then runs as its own user and must pass through to `.weir/pgdata` (which
PostgreSQL keeps 0700 itself); others can still list and read nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def state_dir_mode() -> int:
    """Return the mode `.weir` itself gets: 0700, or 0711 under root (see the module docstring)."""
    return 0o711 if os.geteuid() == 0 else PRIVATE_DIR


def private_dir(path: Path, state_dir: Path) -> Path:
    """Create `path` (inside `state_dir`, `.weir`) and every folder up to `state_dir`, private; return it."""
    folders = [path, *path.parents]
    for folder in reversed(folders[: folders.index(state_dir) + 1]):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        mode = state_dir_mode() if folder == state_dir else PRIVATE_DIR
        if folder.stat().st_mode & 0o777 != mode:
            folder.chmod(mode)  # mkdir's mode is cut by the umask; an existing folder may be wider
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (UTF-8), readable and writable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with open(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(descriptor, PRIVATE_FILE)  # the umask may have cut os.open's mode; an old file may be wider
        file.write(text)
