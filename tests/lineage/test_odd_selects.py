"""Column lineage never fails on a SELECT PostgreSQL accepts; its output columns have PostgreSQL's names."""

from __future__ import annotations

import pytest

from runner.errors import LineageError
from runner.lineage import analyze_select, select_lineage

ODD = [
    ("SELECT 1", ("?column?",)),
    ("VALUES (1, 2)", ("column1", "column2")),
    ("TABLE raw.t", ("*",)),
    ("SELECT a, b FROM raw.t GROUP BY GROUPING SETS ((a), (b), ())", ("a", "b")),
    ("SELECT * FROM ROWS FROM (generate_series(1, 3), unnest(ARRAY['a'])) AS r(n, s)", ("n", "s")),
    ("SELECT x.* FROM XMLTABLE('/r' PASSING '<r/>' COLUMNS a int PATH 'a') AS x", ("*",)),
    ("SELECT j.v FROM JSON_TABLE('[1]'::jsonb, '$[*]' COLUMNS (v int PATH '$')) AS j", ("v",)),
    ("SELECT * FROM (SELECT 1 AS a)", ("a",)),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5)"
     " SEARCH DEPTH FIRST BY n SET o SELECT n FROM t", ("n",)),
    ("SELECT a FROM raw.t ORDER BY a FETCH FIRST 3 ROWS ONLY FOR UPDATE", ("a",)),
    ("SELECT count(t.*), percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM raw.t AS t", ("count", "percentile_cont")),
    ("SELECT DISTINCT ON (a) a, b FROM raw.t ORDER BY a, b", ("a", "b")),
    ("SELECT CURRENT_DATE, now(), $1::int, CAST(x AS text) FROM raw.t", ("current_date", "now", "int4", "x")),
    ("SELECT * FROM raw.t AS a JOIN raw.u AS b USING (id) AS j WHERE j.id > 0", ("id", "*")),
    ("SELECT EXISTS (SELECT 1), ARRAY(SELECT 1), (SELECT 1 AS one)", ("exists", "array", "one")),
    ("SELECT xmlelement(name foo, a), JSON_OBJECT('a': a), a IS JSON FROM raw.t", ("xmlelement", "json_object")),
    ("SELECT nope.*, a.b.c.d FROM raw.t", ("*", "d")),
    ("SELECT sum(x) OVER (ORDER BY y ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM raw.t", ("sum",)),
    ("SELECT * FROM (VALUES (1)) AS v(a) NATURAL FULL JOIN (VALUES (2)) AS w(a)", ("a",)),
]


@pytest.mark.parametrize(("sql", "columns"), ODD, ids=[sql[:40] for sql, _ in ODD])
def test_odd_selects_give_an_answer(sql: str, columns: tuple[str, ...]) -> None:
    found = analyze_select(sql, lambda relation: None)
    assert found.columns[: len(columns)] == columns


@pytest.mark.parametrize("sql", ["INSERT INTO t VALUES (1)", "SELECT 1; SELECT 2", "", "SELEC 1"])
def test_what_is_not_one_select_is_a_lineage_error(sql: str) -> None:
    with pytest.raises(LineageError, match="exactly one SELECT|cannot parse"):
        select_lineage(sql, lambda relation: None)
