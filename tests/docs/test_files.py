"""The docs directory is replaced whole, through a temporary sibling, keeping files that are not docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.docs import stale_files, write_all
from runner.errors import DocsError


def test_a_rewrite_replaces_the_docs_keeps_other_files_and_leaves_no_temporary_directory(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "data"
    write_all(out, {"A.md": "first\n"})
    (out / "README.md").write_text("kept\n")
    write_all(out, {"A.md": "second\n", "B.md": "new\n"})
    assert {path.name: path.read_text() for path in out.iterdir()} == {
        "A.md": "second\n", "B.md": "new\n", "README.md": "kept\n"}
    assert sorted(path.name for path in out.parent.iterdir()) == ["data"]
    assert stale_files(out, {"A.md": "second\n", "B.md": "other\n", "C.md": ""}) == ["B.md", "C.md"]


def test_an_out_under_a_file_fails_and_changes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DocsError, match=r"^cannot write the docs to .*/file/data: .*; choose another --out$"):
        write_all(blocker / "data", {"A.md": "a"})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]
