"""Where the taglake checkout is: the one folder every path of the project is found from.

The bottom of `taglake.core`: it imports nothing of the package, so `project`, `targets` and `sources` can all
find the checkout without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path


def find_project_dir(start: Path | None = None) -> Path:
    """The dbt project folder: TAGLAKE_PROJECT_DIR, else the nearest folder up from `start` (default: the
    working directory) holding dbt_project.yml, else the checkout this package was installed from."""
    env = os.environ.get("TAGLAKE_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dbt_project.yml").is_file():
            return folder
    installed = Path(__file__).resolve().parents[2]
    if (installed / "dbt_project.yml").is_file():
        return installed
    raise FileNotFoundError("no dbt project found: run taglake inside the taglake checkout or set TAGLAKE_PROJECT_DIR")
