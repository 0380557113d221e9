"""labelbudget's command line: a union of the subcommands in `cli`, each a dataclass with
`execute()` (tyro makes the flags from their fields and docstrings).

    labelbudget run --budget 64 --weak-cost 0.1 --hq-fraction 0.5 --seed 0
    labelbudget sweep --preset demo && labelbudget report --results results
    labelbudget list

`--debug` anywhere shows the traceback behind an error message.
"""

from __future__ import annotations

import sys
from typing import Annotated

import tyro

from labelbudget.cli import Demo, List, Plan, Predict, Report, Run, Sweep, Weak, execute

Command = (
    Annotated[Run, tyro.conf.subcommand("run")]
    | Annotated[Weak, tyro.conf.subcommand("weak")]
    | Annotated[List, tyro.conf.subcommand("list")]
    | Annotated[Sweep, tyro.conf.subcommand("sweep")]
    | Annotated[Plan, tyro.conf.subcommand("plan")]
    | Annotated[Report, tyro.conf.subcommand("report")]
    | Annotated[Demo, tyro.conf.subcommand("demo")]
    | Annotated[Predict, tyro.conf.subcommand("predict")]
)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return execute(lambda a: tyro.cli(Command, args=a, prog="labelbudget"), args)


if __name__ == "__main__":
    sys.exit(main())
