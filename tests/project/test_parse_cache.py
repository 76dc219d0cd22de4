"""The parse cache: unchanged model and check files are read without pglast, and never wrongly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.errors import ProjectFileError
from runner.project.checks import read_checks
from runner.project.models import clock_calls, read_models, with_since
from runner.project.parse_cache import ParseCache

MODEL = (
    "-- weir: kind=incremental, unique_key=id, watermark=at\n"
    "WITH recent AS (SELECT id, at FROM raw.a WHERE at > weir.since('marts.m'))\n"
    "SELECT r.id, r.at, now() AS seen FROM recent AS r JOIN marts.b USING (id)\n"
)
FILES = {
    "models/marts/m.sql": MODEL,
    "models/marts/b.sql": "SELECT 1 AS id\n",
    "checks/m_not_empty.sql": "-- weir: severity=warn\nSELECT 1 AS empty WHERE NOT EXISTS (SELECT FROM marts.m)\n",
}


def cache_file(root: Path) -> Path:
    return root / ".weir" / "cache" / "parsed.json"


def test_a_second_read_comes_from_the_cache_and_equals_the_first(tmp_path: Path, write_files) -> None:
    write_files(tmp_path, FILES)
    parsed = read_models(tmp_path / "models", tmp_path), read_checks(tmp_path / "checks", tmp_path)
    assert len(json.loads(cache_file(tmp_path).read_text())["entries"]) == 3
    cached = read_models(tmp_path / "models", tmp_path), read_checks(tmp_path / "checks", tmp_path)
    assert cached == parsed
    model = cached[0][1]
    assert model.relations == frozenset({("raw", "a"), ("marts", "b")})
    assert clock_calls(model) == ["now()"]
    assert "'-infinity'::timestamptz" in with_since(model, "-infinity")


def test_a_warm_cache_reads_the_project_without_importing_pglast(tmp_path: Path, write_files) -> None:
    write_files(tmp_path, FILES)
    script = (
        "import sys; from pathlib import Path; from runner.project.models import read_models;"
        " from runner.project.checks import read_checks; root = Path(sys.argv[1]);"
        " read_models(root / 'models', root); read_checks(root / 'checks', root);"
        " print('pglast' in sys.modules)"
    )

    def imports_pglast() -> str:
        return subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert imports_pglast() == "True"  # cold: parsed, and cached
    assert imports_pglast() == "False"


def test_an_edited_file_is_parsed_again(tmp_path: Path, write_files) -> None:
    write_files(tmp_path, FILES)
    read_models(tmp_path / "models", tmp_path)
    write_files(tmp_path, {"models/marts/m.sql": MODEL.replace("JOIN marts.b", "JOIN marts.c")})
    model = read_models(tmp_path / "models", tmp_path)[1]
    assert ("marts", "c") in model.relations


def test_a_bad_file_is_never_cached_and_fails_every_time(tmp_path: Path, write_files) -> None:
    write_files(tmp_path, {**FILES, "checks/bad.sql": "SELECT 1 FROM\n"})
    read_models(tmp_path / "models", tmp_path)
    for _ in range(2):
        with pytest.raises(ProjectFileError, match=r"^checks/bad\.sql:1: syntax error at end of input"):
            read_checks(tmp_path / "checks", tmp_path)
    # The two models and the good check, read on past the bad one; never the bad one.
    entries = json.loads(cache_file(tmp_path).read_text())["entries"].values()
    assert len(entries) == 3 and all("FROM\n" not in entry["sql"] for entry in entries)


def test_a_cache_from_other_code_or_corrupt_is_ignored(tmp_path: Path, write_files) -> None:
    write_files(tmp_path, FILES)
    read_models(tmp_path / "models", tmp_path)
    document = json.loads(cache_file(tmp_path).read_text())
    for entry in document["entries"].values():
        entry["references"] = [["raw", "wrong", 0]]  # what a stale cache would say
    cache_file(tmp_path).write_text(json.dumps({**document, "code": "another version of weir"}))
    assert ("raw", "a") in read_models(tmp_path / "models", tmp_path)[1].relations
    cache_file(tmp_path).write_text("{not json")
    assert ("raw", "a") in read_models(tmp_path / "models", tmp_path)[1].relations
    assert json.loads(cache_file(tmp_path).read_text())["code"] == ParseCache.open(tmp_path).code


def test_an_unwritable_cache_directory_only_costs_parsing(tmp_path: Path, write_files) -> None:
    write_files(tmp_path, {**FILES, ".weir": "a file where the directory would be"})
    assert len(read_models(tmp_path / "models", tmp_path)) == 2
    assert (tmp_path / ".weir").is_file()
