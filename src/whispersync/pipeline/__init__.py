"""The pipeline: ingest → durable queue → worker pool → agents, and its storage ports.

Modules: `ingest` (all three ways in share `Ingestor`), `queue` (SQS semantics on
SQLite), `worker` (`MemoProcessor`, `WorkerPool`), `inbox`, `collector` (periodic
gauges), `blobs` and `records` (BlobStore and RecordStore ports with local adapters).
"""
