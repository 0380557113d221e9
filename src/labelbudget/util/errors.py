"""One error type for everything a user can get wrong.

The CLI prints it as one line (no traceback) and exits non-zero. Every message says what is
wrong and how to fix it, so a user never has to read our source to recover.

It is deliberately not a ValueError: tyro catches ValueErrors raised while building configs and
draws its own box around them, while this error should look the same wherever it is raised.
"""

import errno
import re

ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
"""Errors of the machine, not of labelbudget: said in one line like bad input."""


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


SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
"""numpy's message for a write the disk could not take (`np.save`, `tofile`): an OSError
without an errno."""


def of_the_machine(e: OSError) -> bool:
    """Whether an OSError is the machine's (a full disk, permissions), not a labelbudget bug."""
    return e.errno in ENVIRONMENT_ERRNOS or (e.errno is None and SHORT_WRITE.search(str(e)) is not None)
