"""The test server itself: each test gets a fresh, empty database."""


def test_each_test_gets_an_empty_database(db):
    db.execute("CREATE TABLE scratch (x int)")
    tables = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert tables == 1


def test_the_previous_tests_table_is_gone(db):
    assert db.execute("SELECT to_regclass('public.scratch')").fetchone()[0] is None
