"""Reading every file before reporting: a project with 24 misnamed files learns of all 24 in one run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from runner.errors import ProjectFileError, ProjectProblems


class Problems:
    """The ProjectFileErrors found while reading a project's files, raised together at the end."""

    def __init__(self) -> None:
        self.found: list[ProjectFileError] = []

    def add(self, problem: ProjectFileError) -> None:
        """Note `problem` (each of them, if it holds several) and read on."""
        self.found.extend(problem.problems if isinstance(problem, ProjectProblems) else [problem])

    @contextmanager
    def each(self) -> Iterator[None]:
        """Note a ProjectFileError raised in the block and go on after it."""
        try:
            yield
        except ProjectFileError as problem:
            self.add(problem)

    def raise_any(self) -> None:
        """Raise the one problem found as it was, several as one ProjectProblems, or nothing."""
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise ProjectProblems(self.found)
