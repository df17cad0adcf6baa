"""Errors about the user's files that every layer may raise (no dependencies: the entry
points catch them before anything heavy is imported)."""

from __future__ import annotations


class DataFileError(ValueError):
    """A dataset file is unreadable, truncated, damaged or not in the expected layout.

    The message names the file and the problem; entry points print it as one line.
    """
