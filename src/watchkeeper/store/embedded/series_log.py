"""`series.jsonl`: every series ever created, so WAL segments can be dropped after a compaction.

A series is first recorded in the WAL record that created it; when that segment is compacted
into a block, the compactor appends the series here (fsynced) before the segment is deleted.
Lines are idempotent (`tenant`, `id`, `labels`): replaying a series twice is harmless.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from watchkeeper.domain.series import Labels


def append_series(path: Path, entries: list[tuple[str, int, Labels]]) -> None:
    if not entries:
        return
    lines = "".join(
        json.dumps({"tenant": t, "id": sid, "labels": list(labels)}) + "\n"
        for t, sid, labels in entries
    )
    with path.open("a", encoding="utf-8") as file:
        file.write(lines)
        file.flush()
        os.fsync(file.fileno())


def read_series(path: Path) -> Iterator[tuple[str, int, Labels]]:
    """Every recorded series; a torn last line (crash mid-append) is cut off the file first.

    The torn line's series are still in the WAL, whose segment is deleted only after the
    append that wrote them here was fsynced.
    """
    if not path.exists():
        return
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    if complete != len(data):
        with path.open("r+b") as file:
            file.truncate(complete)
            os.fsync(file.fileno())
    for line in data[:complete].splitlines():
        entry = json.loads(line)
        labels = tuple((name, value) for name, value in entry["labels"])
        yield entry["tenant"], int(entry["id"]), labels
