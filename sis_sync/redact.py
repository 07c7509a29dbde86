"""What a message may not carry: secrets (URL user-info, ``password=...`` pairs) and the row values that
database and CSV errors quote. Every message built from an exception that reaches the nightly output, the
ledger or ``sync_attempts`` goes through :func:`redact`."""

from __future__ import annotations

import re

# scheme://user:password@host -> scheme://***@host (a user alone is hidden too: it may be an access key id)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
# password=..., secret: ..., token '...' (libpq, boto, dlt and yaml spellings)
_SECRET_PAIR = re.compile(
    r"(?i)\b([a-z_]*(?:password|passwd|pwd|secret|token|passphrase|credentials?)[a-z_]*)"
    r"(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s,;&)]+)")
# the values Postgres quotes: "Failing row contains (...)", "Key (id)=(...)", "COPY t, line 3, column c: "...""
_ROW_DETAIL = re.compile(r"(?i)(failing row contains|key \([^)]*\)=)\s*\(.*?\)(?=[^)]*$|\s|$)", re.S)
_COPY_CONTEXT = re.compile(r'(?i)(COPY [^,\n]+, line \d+(?:, column [^:\n]+)?):\s*"?[^\n]*')
# "invalid input syntax for type date: "03/21/2008""
_PG_VALUE = re.compile(r'(?i)(invalid input (?:syntax|value) for [^:\n]*):\s*"[^"\n]*"')
# pyarrow: "CSV parse error: Expected 5 columns, got 3: <the row>"
_CSV_ROW = re.compile(r"(?i)(expected \d+ columns, got \d+):.*", re.S)


def redact(text: object) -> str:
    """``text`` without secrets or quoted row values."""
    out = str(text)
    out = _USERINFO.sub(r"\1***@", out)
    out = _SECRET_PAIR.sub(lambda m: m.group(1) + m.group(2) + "***", out)
    out = _ROW_DETAIL.sub(lambda m: m.group(1) + ("" if m.group(1).endswith("=") else " ") + "(...)", out)
    out = _COPY_CONTEXT.sub(r"\1", out)
    out = _PG_VALUE.sub(r"\1", out)
    return _CSV_ROW.sub(r"\1", out)


def has_url_credentials(text: str) -> bool:
    """``text`` holds a URL with user-info (``scheme://user[:password]@host``)."""
    return _USERINFO.search(str(text)) is not None


def url_without_userinfo(url: str | None) -> str | None:
    """A URL for messages: its user-info (credentials) left out."""
    return None if url is None else _USERINFO.sub(r"\1", str(url))
