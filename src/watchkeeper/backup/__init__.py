"""Backups of the metadata database and the embedded metric store (create, verify, restore).

Layout of a backups folder: one sub-folder per backup, named by its id (a UTC timestamp, so
names sort by age), each with `manifest.json` written last (a folder without one is an
unfinished backup and is never used). See `manifest.py` for the manifest and `create.py` for
what is copied and how a copy stays consistent while ingest goes on. With WAL shipping on, a
`wal/` folder beside the backups holds the SQLite metadata's shipped WAL for point-in-time
restore (`walship.py`, `segments.py`, `pitr.py`).
"""
