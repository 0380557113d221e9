"""Name -> plug-in maps for every seam (tasks, label sources, learners, methods, executors).

As peft's `mapping.py`, registering a name twice is an error: a plug-in never silently replaces
another."""

from __future__ import annotations

from typing import Generic, TypeVar

from labelbudget.util.errors import UserError

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """A dict of plug-ins by name; `what` names the kind in messages ("method", "task", ...)."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def register(self, name: str, item: T) -> T:
        if name in self:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self[name] = item
        return item

    def get_or_fail(self, name: str, fix: str | None = None) -> T:
        """The plug-in called `name`, or one clear error listing the registered ones."""
        if name not in self:
            raise UserError(f"unknown {self.what} {name!r}", fix or f"use one of {', '.join(sorted(self))}")
        return self[name]
