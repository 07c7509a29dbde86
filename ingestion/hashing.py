"""64-bit hashes of typed columns, vectorised with Arrow: what a record's key (duplicate keys in a file, the
identity of a version) and its content (:func:`sis_sync.ingestion.versions.content_hashes`) are compared by.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

U64 = pa.uint64()
_NO_SEPARATOR = pa.scalar(b"", pa.binary())
_MULTIPLIER = pa.scalar(0x9E3779B97F4A7C15, U64)  # 2^64 / golden ratio, odd
_FINAL_1 = pa.scalar(0xFF51AFD7ED558CCD, U64)  # MurmurHash3's 64-bit finaliser
_FINAL_2 = pa.scalar(0xC4CEB9FE1A85EC53, U64)


def _mix(h: pa.Array | None, value: pa.Array) -> pa.Array:
    """Fold a uint64 array into the running hash (integer arithmetic wraps around modulo 2^64)."""
    if h is not None:
        value = pc.bit_wise_xor(h, value)
    value = pc.multiply(value, _MULTIPLIER)
    return pc.bit_wise_xor(value, pc.shift_right(value, pa.scalar(29, U64)))


def _as_u64(array: pa.Array) -> pa.Array:
    """The 8 bytes of each value of a fixed-width array of 8-byte values, read as uint64 (no copy)."""
    return pa.Array.from_buffers(U64, len(array), [None, array.buffers()[1]], offset=array.offset)


def key_hashes(columns: list[pa.Array]) -> pa.Array:
    """One 64-bit hash (uint64) per record of the typed key columns; equal keys always hash equal.

    A text value is hashed from its length and its UTF-8 bytes, 8 at a time (vectorised over the whole batch:
    one pass per 8 bytes of the column's longest value); a date or integer from its value. NULL hashes as an
    empty text or a zero would (a collision at worst: the exact comparison tells them apart).
    """
    h = None
    for column in columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            raw = pc.cast(column, pa.binary())
            if raw.null_count:
                raw = pc.fill_null(raw, b"")
            lengths = pc.binary_length(raw)
            h = _mix(h, pc.cast(lengths, U64))
            bounds = pc.min_max(lengths).as_py()
            shortest, longest = bounds["min"] or 0, bounds["max"] or 0
            pieces = max(1, -(-longest // 8))
            # Zeros after every value, so that each 8-byte piece up to the longest value's is whole.
            padded = pc.binary_join_element_wise(raw, pa.scalar(b"\0" * (8 * pieces), pa.binary()), _NO_SEPARATOR)
            for start in range(0, 8 * pieces, 8):
                piece = _as_u64(pc.cast(pc.binary_slice(padded, start, start + 8), pa.binary(8)))
                mixed = _mix(h, piece)
                # Only the pieces a value has: its hash must not depend on the other values of its batch.
                h = mixed if start == 0 or shortest > start else pc.if_else(pc.greater(lengths, start), mixed, h)
        else:
            if pa.types.is_date32(column.type):
                column = pc.cast(column, pa.int32())
            h = _mix(h, pc.fill_null(pc.cast(pc.cast(column, pa.int64()), U64, safe=False), 0))
    h = pc.bit_wise_xor(h, pc.shift_right(h, pa.scalar(33, U64)))
    h = pc.multiply(h, _FINAL_1)
    h = pc.bit_wise_xor(h, pc.shift_right(h, pa.scalar(33, U64)))
    h = pc.multiply(h, _FINAL_2)
    return pc.bit_wise_xor(h, pc.shift_right(h, pa.scalar(33, U64)))
