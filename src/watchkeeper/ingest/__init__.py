"""Ingestion: decoders (JSON, remote_write, scrape) that turn input into validated samples.

- `validation`  the rules and limits; a batch is accepted whole or each rejection is listed
- `outcome`     AcceptedBatch / RejectedBatch / Rejection / RejectReason, what validation answers
- `json_batch`  the JSON push format of POST /api/v1/ingest
- `remote_write` Prometheus remote_write (snappy protobuf) of POST /api/v1/write
- `exposition`  the Prometheus text format parser; `scrape` the scraper worker
- `host`        the built-in psutil host collector worker
- `sink`        the callback workers write through; `staleness` their staleness markers
"""
