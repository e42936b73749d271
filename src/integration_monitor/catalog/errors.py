"""Errors raised while loading the catalog."""

from __future__ import annotations

from pathlib import Path


class CatalogError(Exception):
    """The catalog cannot be loaded; the message names the file, the entry and the problem."""

    def __init__(self, path: Path | str, entry: str, problem: str) -> None:
        self.path = str(path)
        self.entry = entry
        self.problem = problem
        super().__init__(f"{self.path}: {entry}: {problem}")
