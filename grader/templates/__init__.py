"""Files students copy into their submissions (never imported by a submission from here)."""

from __future__ import annotations

import shutil
from pathlib import Path

WRITER = Path(__file__).with_name("write_results.py")


def copy_writer(folder: Path) -> Path:
    """Copy write_results.py into ``folder`` (created if missing) and return the new file's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / WRITER.name
    shutil.copyfile(WRITER, target)
    return target
