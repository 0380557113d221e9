"""One error type for everything a user can get wrong.

The CLI prints it as one line (no traceback) and exits non-zero. Every message says what is
wrong and how to fix it, so a user never has to read our source to recover.
"""


class UserError(ValueError):
    """Bad input: a file, a column, a budget, a name. Raised before anything is written."""

    def __init__(self, problem: str, fix: str):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}")
