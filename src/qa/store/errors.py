"""What can be wrong with an index, each a one-line message for the command line and logs."""
from __future__ import annotations


class IndexError_(Exception):
    """The index is missing, corrupt, stale, busy or built for another model."""


class IndexMissing(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class IndexOutdated(IndexMissing):
    """Written by an older planqa in a format this one does not read: rebuilt like a missing one."""


class ModelMismatch(IndexError_):
    pass


class IndexUnwritable(IndexError_):
    """The index folder cannot be written: read-only, full, or another user's."""


def unwritable(path, e: OSError) -> IndexUnwritable:
    return IndexUnwritable(f"cannot write the index at {path}: {e.strerror or e}")


class BuildBusy(IndexError_):
    """Another process is building this index folder and we were told not to wait."""
