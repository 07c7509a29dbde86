"""Deterministic draws: every random choice of the sample district is a hash of (seed, district, the entity's
own id, a purpose tag), so any entity is computed alone, on any export date."""

from __future__ import annotations

import hashlib
import random

M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(x: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash of a 64-bit integer."""
    x = (x + _GOLDEN) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def _key(*parts: int) -> int:
    x = 0
    for p in parts:
        x = _mix(x ^ (p & M64))
    return x


def _text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _unit(bits: int) -> float:
    """The low 16 bits as a number in [0, 1)."""
    return (bits & 0xFFFF) / 65536.0


# Purposes, mixed into every key so that different draws of one entity are independent.
TAG_SCHOOLS, TAG_FAMILY, TAG_DETAIL, TAG_KID, TAG_STAFF, TAG_STAFF_NAME = 1, 2, 3, 4, 5, 6
TAG_SCHEDULE, TAG_PHONE, TAG_DISCIPLINE, TAG_ATTENDANCE, TAG_ZONE = 7, 8, 9, 10, 11
_CHANGE, _SUMMER = 0x5C4A, 0x5077


def _pick(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]
