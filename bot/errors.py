"""The exceptions that cross module boundaries."""

from __future__ import annotations

from dataclasses import dataclass


class NewsbotError(Exception):
    """Base class for newsbot's own errors."""


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One problem in a rule file: where it is and what is wrong."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class RuleFileError(NewsbotError):
    """Rule files are invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.field))
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(NewsbotError):
    """A setting has a value newsbot cannot use."""


class StorageError(NewsbotError):
    """The database could not do what was asked."""
