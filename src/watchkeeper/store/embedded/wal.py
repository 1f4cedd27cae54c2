"""The write-ahead log: every append is one checksummed record, acknowledged after fsync.

Segments are numbered files `wal/00000001`, ... A record is
`magic u32 | payload length u32 | crc32 u32 | payload`; the payload carries the tenant, the
series the append created and its samples as raw column bytes, so replay is a few
`np.frombuffer` calls. Several threads appending at once share one fsync (group commit):
whoever reaches the sync lock first syncs everything written so far.

fsync policy (`FsyncPolicy`):
- "always": `append` returns after fdatasync: an acknowledged write survives kill -9, an OS
  crash and power loss.
- "never": `append` returns after write(2): it survives kill -9 of the process (the kernel
  holds the bytes) but not an OS crash; the page cache is flushed when a segment is closed.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import Labels
from watchkeeper.runtime.files import fsync_path

FsyncPolicy = Literal["always", "never"]

_MAGIC = 0x57574B31  # "WWK1"
_HEADER = struct.Struct("<III")
_COUNTS = struct.Struct("<III")  # tenant bytes, series JSON bytes, samples

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WalRecord:
    """One acknowledged append: new series (id, labels) first, then the accepted samples."""

    tenant_id: str
    new_series: list[tuple[int, Labels]]
    series_ids: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


def encode_record(record: WalRecord) -> bytes:
    tenant = record.tenant_id.encode()
    series = json.dumps([[sid, list(labels)] for sid, labels in record.new_series]).encode()
    payload = b"".join(
        (
            _COUNTS.pack(len(tenant), len(series), len(record.timestamps)),
            tenant,
            series,
            record.series_ids.astype("<i8", copy=False).tobytes(),
            record.timestamps.astype("<i8", copy=False).tobytes(),
            record.values.astype("<f8", copy=False).tobytes(),
        )
    )
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def decode_record(payload: bytes) -> WalRecord:
    tenant_len, series_len, n = _COUNTS.unpack_from(payload)
    offset = _COUNTS.size
    tenant = payload[offset : offset + tenant_len].decode()
    offset += tenant_len
    series = json.loads(payload[offset : offset + series_len])
    offset += series_len
    columns = np.frombuffer(payload, dtype="<i8", count=3 * n, offset=offset)
    return WalRecord(
        tenant_id=tenant,
        new_series=[(int(sid), tuple((k, v) for k, v in labels)) for sid, labels in series],
        series_ids=columns[:n].astype(np.int64),
        timestamps=columns[n : 2 * n].astype(np.int64),
        values=columns[2 * n :].view(np.float64).copy(),
    )


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"{number:08d}"


def segment_numbers(directory: Path) -> list[int]:
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def fsync_directory(directory: Path) -> None:
    """Make a file creation, rename or deletion in `directory` durable."""
    fsync_path(directory)


def read_segment(path: Path) -> Iterator[WalRecord]:
    """Records of one segment; a torn or corrupt tail (crash mid-write) is cut off the file."""
    data = path.read_bytes()
    offset = 0
    while offset + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, offset)
        payload = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            break
        yield decode_record(payload)
        offset += _HEADER.size + length
    if offset != len(data):
        log.warning("wal segment %s: dropping %d torn bytes", path, len(data) - offset)
        with path.open("r+b") as file:
            file.truncate(offset)
            os.fsync(file.fileno())


class WalWriter:
    """Appends records to the current segment; `rotate` starts the next one."""

    def __init__(self, directory: Path, first_segment: int, fsync: FsyncPolicy) -> None:
        self.directory = directory
        self.fsync = fsync
        self.segment = first_segment
        self._fd = self._open(first_segment)
        self._written = 0  # bytes written over the writer's life, across segments
        self._synced = 0
        self._sync_lock = threading.Lock()

    def _open(self, number: int) -> int:
        fd = os.open(segment_path(self.directory, number), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        fsync_directory(self.directory)
        return fd

    def write(self, record: WalRecord) -> int:
        """Write one record (callers serialise writes); returns the position to `sync_to`."""
        data = encode_record(record)
        size = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write to the WAL ({written} of {len(data)} bytes)")
        except OSError:
            os.ftruncate(self._fd, size)  # never leave a torn record before later ones
            raise
        self._written += len(data)
        return self._written

    def sync_to(self, position: int) -> None:
        """Return once everything up to `position` is durable under the fsync policy."""
        if self.fsync == "never":
            return
        with self._sync_lock:
            if self._synced >= position:
                return  # another thread's fsync covered this record
            target = self._written
            os.fdatasync(self._fd)
            self._synced = max(self._synced, target)

    def rotate(self) -> int:
        """Close the current segment durably and open the next; returns the closed number."""
        with self._sync_lock:
            os.fsync(self._fd)
            os.close(self._fd)
            self._synced = self._written
            closed = self.segment
            self.segment += 1
            self._fd = self._open(self.segment)
        return closed

    def close(self) -> None:
        with self._sync_lock:
            os.fsync(self._fd)
            os.close(self._fd)
            self._synced = self._written
