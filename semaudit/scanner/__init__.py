"""The scan: settings, batched embedding, per-class analysis and the audit writer (``run.scan``)."""
