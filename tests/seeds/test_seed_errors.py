"""Bad CSV: one line with file:line:column and what to do, exit 2, nothing loaded, the previous table intact."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

GOOD = b"code,name,rank\nAT,Austria,1\nDE,Germany,2\n"
MANY = b"n\n" + b"".join(b"%d\n" % n for n in range(10_050))

# (the CSV, the types file or None, the message after "weir: ")
BAD = {
    "ragged, short": (
        b"code,name,rank\nAT,Austria,1\nDE,Germany\n", None,
        "seeds/ref/codes.csv:3:3: the row has fewer values than the header's 3 columns (none for rank);"
        " add the missing ones (an empty value is NULL)"),
    "ragged, long": (
        b"code,name,rank\nAT,Austria,1,x\n", None,
        "seeds/ref/codes.csv:2:4: the row has more values than the header's 3 columns; remove the extra ones,"
        " or quote a value that holds a comma"),
    "line after a quoted line break": (
        b'code,name,rank\nAT,"Aus\ntria",1\nDE,Germany,2,x\n', None,
        "seeds/ref/codes.csv:4:4: the row has more values than the header's 3 columns; remove the extra ones,"
        " or quote a value that holds a comma"),
    "wrong type in a record over two lines": (
        b'code,name,rank\nAT,"Aus\ntria",first\n', b'-- weir: columns="rank int"\n',
        'seeds/ref/codes.csv:2:3: invalid input syntax for type integer: "first" in column rank'
        " (declared int in seeds/ref/codes.sql); fix the value, or declare another type"),
    "wrong type, declared": (
        b"code,name,rank\nAT,Austria,1\nDE,Germany,second\n", b'-- weir: columns="rank smallint"\n',
        'seeds/ref/codes.csv:3:3: invalid input syntax for type smallint: "second" in column rank'
        " (declared smallint in seeds/ref/codes.sql); fix the value, or declare another type"),
    "wrong type, inferred from the first rows": (
        MANY + b"ten thousand and fifty\n", None,
        'seeds/ref/codes.csv:10052:1: invalid input syntax for type integer: "ten thousand and fifty" in column n'
        " (inferred integer from the first 10,000 rows); fix the value, or declare its type in"
        ' seeds/ref/codes.sql: -- weir: columns="n text"'),
    "not UTF-8": (
        b"code,name,rank\nAT,\xd6sterreich,1\n", None,
        "seeds/ref/codes.csv:2:2: not UTF-8 (invalid continuation byte at byte 18); save the file as UTF-8"
        " (e.g. iconv -f latin1 -t utf-8)"),
    "not UTF-8 in the header": (
        b"code,n\xe4me\nAT,x\n", None,
        "seeds/ref/codes.csv:1:2: not UTF-8 (invalid continuation byte at byte 6); save the file as UTF-8"
        " (e.g. iconv -f latin1 -t utf-8)"),
    "empty file": (
        b"", None,
        "seeds/ref/codes.csv:1:1: the file is empty; a seed's first line names its columns, e.g. code,name"),
    "duplicate header name": (
        b"code,name,code\nAT,Austria,AT\n", None,
        "seeds/ref/codes.csv:1:3: column name 'code' repeats column 1; give each column its own name"),
    "blank header name": (
        b"code,,rank\nAT,Austria,1\n", None,
        "seeds/ref/codes.csv:1:2: column 2 has no name; name it in the header line"),
    "unclosed quote": (
        b'code,name,rank\nAT,Austria,1\nDE,"Germany,2\nFR,France,3\n', None,
        'seeds/ref/codes.csv:3:2: a quoted value is never closed; close its quote ("" inside quotes is one quote)'),
    "declared column missing from the CSV": (
        GOOD, b'-- weir: columns="rnk int"\n',
        "seeds/ref/codes.sql:1: columns: 'rnk' is not a column of codes.csv (its header has code, name, rank);"
        " fix the name"),
}


@pytest.fixture(params=["one stream", "in pieces"])
def load_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each case both ways a seed loads: one COPY, or (a large file) pieces side by side."""
    if request.param == "in pieces":
        monkeypatch.setattr("runner.build.seeds.load.PARALLEL_BYTES", 0)
    return str(request.param)


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_csv_is_one_line_exit_2_and_the_previous_table_stays(
        case: str, load_way: str, project: Path, write_files, weir, dsn: str, db: psycopg.Connection) -> None:
    write_files(project, {"seeds/ref/codes.csv": GOOD})
    assert weir("--project", str(project), "--dsn", dsn, "seed").exit_code == 0
    before = db.execute("SELECT 'ref.codes'::regclass::oid, (SELECT array_agg(c ORDER BY code) FROM ref.codes c),"
                        " (SELECT checksum FROM weir.seed_state)").fetchone()

    data, types, message = BAD[case]
    write_files(project, {"seeds/ref/codes.csv": data, **({"seeds/ref/codes.sql": types} if types else {})})
    result = weir("--project", str(project), "--dsn", dsn, "seed")

    assert (result.exit_code, result.stderr.splitlines()[-1]) == (2, f"weir: {message}"), result.output
    assert "Traceback" not in result.output
    after = db.execute("SELECT 'ref.codes'::regclass::oid, (SELECT array_agg(c ORDER BY code) FROM ref.codes c),"
                       " (SELECT checksum FROM weir.seed_state)").fetchone()
    assert after == before
    assert db.execute("SELECT count(*) FROM pg_class WHERE relname LIKE '%weir_new%'").fetchone()[0] == 0
