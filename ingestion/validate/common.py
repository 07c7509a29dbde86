"""What every part of the validator shares: its limits, the Arrow types, and :class:`ValidationError`."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import pyarrow as pa

from sis_sync.ingestion.spec import (
    ARROW_TYPES,
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    GRADE_CODES,
    META_STORED_AS,
    RAW_META_COLUMNS,
)

DEFAULT_BLOCK_SIZE = 8 << 20
MAX_HEADER_BYTES = 1 << 20
MAX_FIELD_BYTES = 64 << 10  # the longest field accepted, in bytes of UTF-8 (a spec decision)
FORMULA_CHARACTERS = ("=", "+", "-", "@")  # a spreadsheet reads a cell starting with one as a formula
MAX_LISTED = 10  # flagged values listed by position in the ledger message (then a count)
DECIMAL_TYPE = ARROW_TYPES["decimal"]
META_TYPES = {name: META_STORED_AS[pg_type].arrow for name, pg_type in RAW_META_COLUMNS.items()}

BOM = b"\xef\xbb\xbf"
_GRADES_ACCEPTED = pa.array(sorted({*GRADE_CODES, "K", *(str(g) for g in range(1, 13))}))
_TRUE = pa.array(BOOLEAN_TRUE)
_FALSE = pa.array(BOOLEAN_FALSE)
_INT_RE = r"^[+-]?[0-9]+$"
_DECIMAL_RE = r"^[0-9]+(\.[0-9]+)?$"
_PHONE_RE = r"^\+[0-9][0-9 ().-]*$"  # +15552017788, +1 (555) 201-7788: not a formula

Opener = Callable[[], BinaryIO]


class ValidationError(Exception):
    """A file breaks the spec. ``str()`` is one line naming the file, the line and the column."""

    def __init__(self, file_name: str, problem: str, line: int | None = None, column: str | None = None):
        self.file_name = file_name
        self.line = line
        self.column = column
        self.problem = problem
        where = file_name
        if line is not None:
            where += f" line {line}"
        if column is not None:
            where += f", column {column}" if line is not None else f" column {column}"
        super().__init__(f"{where}: {problem}")

    @property
    def message(self) -> str:
        return str(self)
