"""What a file-writing export kind produced (the CDISC package, the ODM file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileResult:
    """The main file (in the folder the kind was given), its row count, other files."""

    path: Path
    rows: int
    extra: tuple[Path, ...] = ()
