"""`weir test`: run each model's unit tests on fixture rows, in transactions that are rolled back.

run.py prepares the database (a scratch one by default) and runs each test; fixtures.py shadows
a model's inputs with fixture tables; compare.py diffs the model's rows with the expected ones;
report.py prints them, as text, JSON and JUnit XML.
"""

from runner.unittests.compare import Changed, Difference
from runner.unittests.report import json_results, junit_suite, render_text
from runner.unittests.run import UnitTestReport, UnitTestResult, run_unit_test, run_unit_tests, tests_to_run

__all__ = ["Changed", "Difference", "UnitTestReport", "UnitTestResult", "json_results", "junit_suite", "render_text",
           "run_unit_test", "run_unit_tests", "tests_to_run"]
