"""Keys: duplicate keys in a file (found by hash, confirmed on the values), and ids holding
invisible characters."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from sis_sync.ingestion.hashing import U64, key_hashes
from sis_sync.ingestion.spec import (
    Column,
    FileSpec,
)
from sis_sync.ingestion.validate.common import ARROW_TYPES, Opener, ValidationError
from sis_sync.ingestion.validate.converting import _convert_column
from sis_sync.ingestion.validate.reading import _batches, _Layout

# Characters that show as nothing: the soft hyphen, zero-width spaces and joiners, direction marks and
# embeddings, word joiners and invisible operators, the byte-order mark. An id holding one looks like another
# id and is not equal to it.
INVISIBLE_CHARS = "\u00ad" + "".join(map(chr, range(0x200B, 0x2010))) + "".join(map(chr, range(0x202A, 0x202F))) \
    + "".join(map(chr, range(0x2060, 0x2065))) + "\ufeff"
_INVISIBLE_RE2 = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in INVISIBLE_CHARS) + "]"
_INVISIBLE_UTF8_LEADS = {c.encode()[:2] for c in INVISIBLE_CHARS}


def _invisible_in_ids(spec: FileSpec, columns: list[pa.Array]) -> tuple[int, str, str] | None:
    """(row, column, the character) of the first id (a column named ``*_id``) holding an invisible character,
    or None."""
    first = None
    for column, values in zip(spec.columns, columns, strict=True):
        if not column.name.endswith("_id") or not pa.types.is_string(values.type):
            continue
        data = values.buffers()[2]
        if data is None or not any(lead in memoryview(data).tobytes() for lead in _INVISIBLE_UTF8_LEADS):
            continue  # none of their UTF-8 encodings starts anywhere in the column
        found = pc.match_substring_regex(values, _INVISIBLE_RE2)
        if not pc.any(found).as_py():
            continue
        row = pc.index(found, True).as_py()
        if first is None or row < first[0]:
            first = (row, column.header_name, next(c for c in values[row].as_py() if c in INVISIBLE_CHARS))
    return first



# --- keys -----------------------------------------------------------------------------------------------
#
# A file with two records of the same key is rejected. To find them without keeping every key (a big file's
# keys took most of the validator's memory), each record's key is reduced to a 64-bit hash as the file is read
# (8 bytes per record, whatever the key holds); the hashes seen more than once are the candidates, and only
# when there are any is the file read again to compare the candidate records' keys exactly. So a hash
# collision costs a second read, never a wrong rejection, and the error names the same lines as an exact
# comparison of every key would.

_PARTITION_ROWS = 1 << 20  # hashes checked for repeats per pass (the memory of one hash table)


def _repeated_hashes(hashes: list[pa.Array]) -> pa.Array:
    """The hash values that occur more than once. The hashes are split by their top bits into partitions of
    about _PARTITION_ROWS records, each checked on its own, so the hash table needed stays that size."""
    every = pa.chunked_array(hashes, type=U64)
    bits = max(0, (len(every) - 1) // _PARTITION_ROWS).bit_length()
    found: list[pa.Array] = []
    top = pc.cast(pc.shift_right(every, pa.scalar(64 - bits, U64)), pa.uint16()) if bits else None
    for part in range(1 << bits):
        subset = every if top is None else pc.filter(every, pc.equal(top, pa.scalar(part, pa.uint16())))
        if len(pc.unique(subset)) == len(subset):
            continue
        counts = pc.value_counts(subset)
        found.append(pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1)))
    return pa.concat_arrays(found) if found else pa.array([], U64)


def _check_duplicate_keys(spec: FileSpec, layout: _Layout, opener: Opener, block_size: int,
                          hashes: list[pa.Array]) -> None:
    """Reject the file at the first record whose key an earlier record has (see the section's comment)."""
    candidates = _repeated_hashes(hashes)
    if not len(candidates):
        return
    # Second read: keep the key and line of only the records whose hash is a candidate.
    key_specs = [spec.columns[spec.column_names.index(k)] for k in spec.key]
    parts: list[pa.RecordBatch] = []
    for raw, lines in _batches(layout, opener, block_size):
        keys = [_key_column(layout, column, raw) for column in key_specs]
        keep = pc.is_in(key_hashes(keys), value_set=candidates)
        if pc.any(keep).as_py():
            parts.append(pa.RecordBatch.from_arrays([*(pc.filter(k, keep) for k in keys), pc.filter(lines, keep)],
                                                    names=[*spec.key, "__line"]))
    if parts:
        _first_duplicate(spec, layout.file_name, parts)


def _key_column(layout: _Layout, column: Column, raw: pa.RecordBatch) -> pa.Array:
    """One key column of a raw batch, typed as in the typed batches (the file is known to convert)."""
    position = layout.positions[layout.spec.column_names.index(column.name)]
    if position is None:
        return pa.nulls(raw.num_rows, ARROW_TYPES[column.type])
    return _convert_column(column, raw.column(position), False)[0]


def _first_duplicate(spec: FileSpec, name: str, parts: list[pa.RecordBatch]) -> None:
    """Exact comparison of the (candidate) records' keys: raise at the earliest second occurrence."""
    keys = pa.Table.from_batches(parts)
    if keys.group_by(list(spec.key), use_threads=False).aggregate([]).num_rows == keys.num_rows:
        return
    counts = keys.group_by(list(spec.key), use_threads=False).aggregate([("__line", "count")])
    dups = counts.filter(pc.greater(counts["__line_count"], 1))
    # Error path: find the earliest second occurrence among the duplicated keys.
    rows = keys.join(dups.select(list(spec.key)), keys=list(spec.key), join_type="inner")
    rows = rows.sort_by([("__line", "ascending")])
    seen: dict[tuple, int] = {}
    for row in rows.to_pylist():
        key = tuple(row[k] for k in spec.key)
        if key in seen:
            headers = [spec.column(k).header_name for k in spec.key]
            shown = ", ".join(f"{k}={_plain(v)}" for k, v in zip(headers, key, strict=True))
            raise ValidationError(name, f"duplicate key ({shown}), first seen on line {seen[key]}",
                                  row["__line"], ", ".join(headers))
        seen[key] = row["__line"]


def _plain(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
