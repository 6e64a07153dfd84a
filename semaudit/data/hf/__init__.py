"""Hugging Face ``datasets`` as input, read with pyarrow (no ``datasets`` import).

Three forms: parquet shards (a ``.parquet`` file, or a folder of them, as ``to_parquet`` or the
hub writes them), a ``save_to_disk`` folder (Arrow IPC stream ``.arrow`` files), and
``hf:OWNER/NAME[@SPLIT | @CONFIG/SPLIT]`` resolved in the local hub cache. A row is one image:
its id is ``<shard>#<row>`` (the shard's path under the root, the row within the shard), its
content hash that of its image bytes (so it shares cached embeddings with the same image as a
file or a tar member). Shards are read one at a time, a row group (or record batch) at a time.
"""

from semaudit.data.hf.discover import discover_hf, is_hf_input
from semaudit.data.hf.rows import read_row

__all__ = ["discover_hf", "is_hf_input", "read_row"]
