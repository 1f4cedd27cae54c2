"""Shipped WAL on disk: generations (a base snapshot plus numbered segments) and their checks.

Layout under `<backups folder>/wal/`: one folder per generation, named by its start (a UTC
timestamp, so names sort by age), holding `base.db` (the metadata database as of the
generation's start), `generation.json` (written last: start time, the WAL position the base
corresponds to, the base's sha256), `shipped.json` (the time up to which every commit is
shipped, rewritten on every ship) and `00000001.seg`, `00000002.seg`, ... Each segment is a
header (sequence number, wall-clock time of shipping, the WAL header its frames belong to,
the first frame number, frame count, sha256 of the frames) followed by whole committed frames.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

from watchkeeper.backup.manifest import BackupError, sha256_of
from watchkeeper.backup.walformat import WalFormatError, WalHeader, parse_header
from watchkeeper.runtime.files import write_atomically

GENERATION = "generation.json"
SHIPPED = "shipped.json"
BASE = "base.db"
_SEGMENT = struct.Struct(">4sHHQdIII32s32s")
_MAGIC = b"WKWS"
_VERSION = 1

SHIPPED_WAL_FOLDER = "wal"
"""The shipped WAL's folder inside the backups folder (generations below it); no backup may
be written there (`POST /admin/backup` refuses it)."""


@dataclass(frozen=True)
class Generation:
    id: str
    started_at: float
    salt: list[int] | None
    """Salts of the WAL the base was taken in (None: there was no WAL)."""
    frame: int
    """Frames of that WAL the base holds; the first segment continues after it."""
    seed: list[int]
    base_sha256: str
    base_size: int


@dataclass(frozen=True)
class Segment:
    seq: int
    shipped_at: float
    header: WalHeader
    first: int
    count: int
    body: bytes


def write_durably(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """A reader sees the old or the whole new file (`runtime/files.py`)."""
    write_atomically(path, lambda handle: handle.write(data), fsync=fsync)


def segment_path(folder: Path, seq: int) -> Path:
    return folder / f"{seq:08d}.seg"


def write_segment(
    folder: Path,
    seq: int,
    shipped_at: float,
    header: WalHeader,
    first: int,
    count: int,
    body: bytes,
) -> Path:
    digest = bytes.fromhex(_sha256(body))
    head = _SEGMENT.pack(
        _MAGIC, _VERSION, 0, seq, shipped_at, header.page_size, first, count, header.raw, digest
    )
    path = segment_path(folder, seq)
    write_durably(path, head + body)
    return path


def read_segment(path: Path, *, body: bool = True) -> Segment:
    """A segment, its frames checked against its sha256 (unless only the header is asked)."""
    with path.open("rb") as file:
        raw = file.read(_SEGMENT.size)
        rest = file.read() if body else b""
    if len(raw) < _SEGMENT.size:
        raise BackupError(f"WAL segment {path} is truncated")
    magic, version, _, seq, shipped_at, page_size, first, count, wal_header, digest = (
        _SEGMENT.unpack(raw)
    )
    if magic != _MAGIC or version > _VERSION:
        raise BackupError(f"{path} is not a WAL segment (or a newer version)")
    try:
        header = parse_header(wal_header)
    except WalFormatError as exc:
        raise BackupError(f"WAL segment {path} is corrupt: {exc}") from None
    if body:
        if len(rest) != count * header.frame_size or _sha256(rest) != digest.hex():
            raise BackupError(f"WAL segment {path} fails its sha256 check")
        if seq != int(path.stem) or page_size != header.page_size:
            raise BackupError(f"WAL segment {path} does not match its name or WAL header")
    return Segment(seq, shipped_at, header, first, count, rest)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_generation(folder: Path, generation: Generation) -> None:
    write_durably(folder / GENERATION, json.dumps(asdict(generation), indent=2).encode())


def read_generation(folder: Path) -> Generation:
    try:
        raw = json.loads((folder / GENERATION).read_text())
        return Generation(**raw)
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"WAL generation {folder.name} is unreadable: {exc}") from None


def shipped_through(folder: Path, generation: Generation) -> float:
    """The time up to which every commit of this generation is shipped."""
    try:
        return float(json.loads((folder / SHIPPED).read_text())["through"])
    except (OSError, ValueError, KeyError, TypeError):
        return generation.started_at


def mark_shipped(folder: Path, through: float) -> None:
    # Not fsynced: after a power loss an older time is read back, which only claims less.
    write_durably(folder / SHIPPED, json.dumps({"through": through}).encode(), fsync=False)


def generations_in(root: Path) -> list[tuple[Path, Generation]]:
    """Finished generations (those with generation.json), oldest first."""
    if not root.is_dir():
        return []
    return [
        (p, read_generation(p))
        for p in sorted(root.iterdir())
        if p.is_dir() and (p / GENERATION).is_file()
    ]


def segments_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.seg"))


def verify_generation(folder: Path, generation: Generation) -> int:
    """Checksums of the base and every segment, and no sequence number missing; the number
    of segments."""
    base = folder / BASE
    if not base.is_file() or base.stat().st_size != generation.base_size:
        raise BackupError(f"WAL generation {generation.id}: {BASE} is missing or truncated")
    if sha256_of(base) != generation.base_sha256:
        raise BackupError(f"WAL generation {generation.id}: {BASE} fails its sha256 check")
    paths = segments_of(folder)
    for expected, path in enumerate(paths, start=1):
        segment = read_segment(path)
        if segment.seq != expected:
            raise BackupError(
                f"WAL generation {generation.id}: segment {expected:08d} is missing (a gap)"
            )
    return len(paths)


def prune_generations(root: Path, before: float) -> list[str]:
    """Delete the generations whose shipped WAL ends before `before` (the oldest kept backup),
    never the newest (the one being shipped)."""
    removed = []
    for folder, generation in generations_in(root)[:-1]:
        if shipped_through(folder, generation) < before:
            shutil.rmtree(folder)
            removed.append(generation.id)
    return removed


def verify_wal(root: Path) -> int:
    """Every generation under `root` checked; the number of segments."""
    return sum(verify_generation(p, g) for p, g in generations_in(root))
