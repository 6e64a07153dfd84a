"""The audit directory: atomic I/O, its schema, the loaded ``Audit``, embedding shards, the lock.

Sub-modules: ``io`` (atomic writes, JSON/CSV), ``schema`` (names and shapes), ``audit``
(``Audit``, ``load_audit``), ``shards`` (embedding shards and the index), ``lock`` (one writer).
"""

from semaudit.store.audit import Audit, load_audit
from semaudit.store.io import (
    atomic_write_bytes,
    read_json,
    remove_file,
    remove_stale_temps,
    write_csv,
    write_json,
)
from semaudit.store.schema import (
    AUDIT_JSON,
    CLASSES_COLUMNS,
    CLASSES_CSV,
    CURVES_COLUMNS,
    CURVES_CSV,
    EMBEDDINGS_DIR,
    INDEX_PARQUET,
    SCHEMA_VERSION,
    SKIPPED_COLUMNS,
    SKIPPED_CSV,
    SUMMARY_JSON,
    WEIGHTS_JSON,
    Flag,
)
from semaudit.store.views import AuditSettings, BackboneInfo, Summary

__all__ = [
    "AUDIT_JSON",
    "CLASSES_COLUMNS",
    "CLASSES_CSV",
    "CURVES_COLUMNS",
    "CURVES_CSV",
    "EMBEDDINGS_DIR",
    "INDEX_PARQUET",
    "SCHEMA_VERSION",
    "SKIPPED_COLUMNS",
    "SKIPPED_CSV",
    "SUMMARY_JSON",
    "WEIGHTS_JSON",
    "Audit",
    "AuditSettings",
    "BackboneInfo",
    "Flag",
    "Summary",
    "atomic_write_bytes",
    "load_audit",
    "read_json",
    "remove_file",
    "remove_stale_temps",
    "write_csv",
    "write_json",
]
