"""One error type for everything a user can get wrong.

The CLI prints it as one line (no traceback) and exits non-zero. Every message says what is
wrong and how to fix it, so a user never has to read our source to recover.

It is deliberately not a ValueError: tyro catches ValueErrors raised while building configs and
draws its own box around them, while this error should look the same wherever it is raised.
"""


class UserError(Exception):
    """Bad input: a file, a column, a budget, a name. Raised before anything is written."""

    def __init__(self, problem: str, fix: str):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}")


class PoolTooSmall(UserError):
    """The task's pool cannot supply the examples an allocation buys (a sweep may skip these)."""


def short(value: object, limit: int = 80) -> str:
    """`repr(value)` cut to `limit` characters, for messages that quote what a user gave (a
    sweep file's value may be megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
