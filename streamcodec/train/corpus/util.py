"""Small helpers shared by the corpus modules: stable string hashes (for seeding) and file-safe names."""

from __future__ import annotations

import re
import zlib


def stable_hash(text: str) -> int:
    """A hash of ``text`` that, unlike ``hash``, is the same in every process (CRC-32)."""
    return zlib.crc32(text.encode())


def safe_name(text: str) -> str:
    """``text`` with runs of characters unsafe in file names replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)
