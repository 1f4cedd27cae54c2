"""Reading SQLite's WAL file format: the header, frames and their running checksums.

The format (https://www.sqlite.org/fileformat2.html#walformat): a 32-byte header (magic,
version, page size, checkpoint sequence, salt-1, salt-2, checksum of the first 24 bytes), then
frames of a 24-byte header (page number, database size in pages after a commit or 0, salt-1,
salt-2, running checksum) and one page. A frame is valid when its salts match the header's
and its checksum continues the chain; a transaction is committed once its last frame (the one
with a database size) is valid. Everything after the last valid commit frame is a torn or
rolled-back tail, which SQLite's own recovery ignores, and so do we.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

HEADER_SIZE = 32
FRAME_HEADER_SIZE = 24
_MAGIC_LE, _MAGIC_BE = 0x377F0682, 0x377F0683
_MASK = 0xFFFFFFFF


class WalFormatError(Exception):
    """A WAL header or segment that is not what SQLite writes."""


@dataclass(frozen=True)
class WalHeader:
    raw: bytes
    page_size: int
    salt: tuple[int, int]
    checksum: tuple[int, int]
    big_endian: bool

    @property
    def frame_size(self) -> int:
        return FRAME_HEADER_SIZE + self.page_size


def checksum(data: bytes, seed: tuple[int, int], big_endian: bool) -> tuple[int, int]:
    """SQLite's WAL checksum (pairs of 32-bit words, Fibonacci-like), continued from `seed`."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    s0, s1 = seed
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & _MASK
        s1 = (s1 + words[i + 1] + s0) & _MASK
    return s0, s1


def parse_header(raw: bytes) -> WalHeader:
    if len(raw) < HEADER_SIZE:
        raise WalFormatError("the WAL header is shorter than 32 bytes")
    magic, version, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", raw[:32])
    if magic not in (_MAGIC_LE, _MAGIC_BE) or version != 3007000:
        raise WalFormatError(f"not a SQLite WAL header (magic {magic:#x}, version {version})")
    big = magic == _MAGIC_BE
    if checksum(raw[:24], (0, 0), big) != (c0, c1):
        raise WalFormatError("the WAL header fails its checksum")
    if page_size < 512 or page_size & (page_size - 1):
        raise WalFormatError(f"the WAL header names page size {page_size}")
    return WalHeader(bytes(raw[:32]), page_size, (salt1, salt2), (c0, c1), big)


def read_header(path: Path) -> WalHeader | None:
    """The WAL's header, or None when there is none yet (no file, empty after a truncating
    checkpoint, or a header being written)."""
    try:
        with path.open("rb") as file:
            raw = file.read(HEADER_SIZE)
    except FileNotFoundError:
        return None
    try:
        return parse_header(raw)
    except WalFormatError:
        return None


@dataclass(frozen=True)
class Committed:
    """Whole committed frames read from a WAL: `data` holds `count` frames starting at frame
    number `first` (1-based); `seed` is the running checksum after the last of them."""

    first: int
    count: int
    data: bytes
    seed: tuple[int, int]


def committed_frames(
    data: bytes, header: WalHeader, first: int, seed: tuple[int, int]
) -> Committed:
    """The valid frames of `data` (frames from number `first` on, continuing the checksum
    chain at `seed`), cut after the last commit frame: a torn or uncommitted tail is left."""
    size = header.frame_size
    s = seed
    valid_end, valid_seed, count = 0, seed, 0
    offset = 0
    while offset + size <= len(data):
        frame = data[offset : offset + size]
        _pgno, db_size, salt1, salt2, c0, c1 = struct.unpack(">6I", frame[:24])
        if (salt1, salt2) != header.salt:
            break
        s = checksum(frame[:8], s, header.big_endian)
        s = checksum(frame[24:], s, header.big_endian)
        if s != (c0, c1):
            break
        offset += size
        if db_size:
            valid_end, valid_seed, count = offset, s, offset // size
    return Committed(first, count, data[:valid_end], valid_seed)


def frames(data: bytes, page_size: int) -> list[tuple[int, int, bytes]]:
    """(page number, database size or 0, page) of each frame in `data`."""
    size = FRAME_HEADER_SIZE + page_size
    out = []
    for offset in range(0, len(data) - size + 1, size):
        pgno, db_size = struct.unpack(">2I", data[offset : offset + 8])
        out.append((pgno, db_size, data[offset + FRAME_HEADER_SIZE : offset + size]))
    return out
