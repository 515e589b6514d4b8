"""An installed wheel holds every file the service reads at run time: each template,
stylesheet, policy and word list under service/ is named by the package data."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import service

ROOT = Path(service.__file__).parent
PYPROJECT = ROOT.parent / "pyproject.toml"


def _covered(relative: str, patterns: list[str]) -> bool:
    # setuptools globs: a "*" never crosses a "/", so compare segment by segment.
    parts = relative.split("/")
    return any(
        len(pattern.split("/")) == len(parts)
        and all(
            fnmatchcase(part, glob) for part, glob in zip(parts, pattern.split("/"), strict=True)
        )
        for pattern in patterns
    )


def test_every_file_the_service_reads_is_in_its_package_data() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["service"]
    data_files = [
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    ]
    assert data_files, "the service reads templates and a policy file"
    assert [name for name in data_files if not _covered(name, patterns)] == []
