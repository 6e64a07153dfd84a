"""Rows of parquet / Arrow shards: in order a row group at a time, or one row by its id.

Reading in order (discovery) holds one row group (parquet) or record batch (Arrow) at a time.
``read_row`` serves the decoder: each process keeps a few shards open (an Arrow shard is
memory-mapped, so a row is read without copying the file) and the row groups it read last,
within ``GROUP_CACHE_BYTES`` (at least one), so the scan's in-order reads cost one pass over the
data and shuffled reads of a dataset within the budget read each row group once.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from semaudit.data.discover import ImageItem

OPEN_SHARDS = 4  # per process: shards kept open for ``read_row``
GROUP_CACHE_BYTES = 64 << 20  # per process: image bytes of parquet row groups kept (LRU)


def _ipc_reader(source: Any) -> Any:
    """An Arrow IPC reader: the stream format (``save_to_disk``), else the file format."""
    import pyarrow as pa

    try:
        return pa.ipc.open_stream(source)
    except pa.ArrowInvalid:
        source.seek(0)
        return pa.ipc.open_file(source)


def shard_schema(shard: Path, kind: str) -> pa.Schema:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "parquet":
        return pq.read_schema(shard)
    with pa.memory_map(str(shard)) as source:
        return _ipc_reader(source).schema


def iter_batches(shard: Path, kind: str, columns: list[str]) -> Iterator[Any]:
    """The shard's ``columns``, one row group / record batch at a time, in row order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "parquet":
        with pq.ParquetFile(shard) as file:
            for group in range(file.num_row_groups):
                yield file.read_row_group(group, columns=columns)
        return
    with pa.memory_map(str(shard)) as source:
        reader = _ipc_reader(source)
        if isinstance(reader, pa.ipc.RecordBatchFileReader):
            batches: Any = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            batches = reader
        for batch in batches:
            yield batch.select(columns)


def image_bytes(column: Any) -> list[bytes | None]:
    """The encoded bytes of an image column (struct ``{bytes, path}`` or binary), per row."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_struct(column.type):
        column = column.field("bytes")
    return column.to_pylist()


class _Open:
    """One shard opened for random reads: parquet row-group starts, or a mapped Arrow table."""

    def __init__(self, path: Path, column: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.column = column
        if path.name.endswith(".arrow"):
            self.file: Any = None
            self.source = pa.memory_map(str(path))  # the table's buffers point into the mapping
            self.table = _ipc_reader(self.source).read_all().select([column])
            return
        self.file = pq.ParquetFile(path)
        self.starts = [0]
        for group in range(self.file.num_row_groups):
            self.starts.append(self.starts[-1] + self.file.metadata.row_group(group).num_rows)

    def row(self, row: int) -> bytes | None:
        if self.file is None:
            if row >= self.table.num_rows:
                raise LookupError(row)
            return image_bytes(self.table.column(0).slice(row, 1))[0]
        if row >= self.starts[-1]:
            raise LookupError(row)
        group = bisect.bisect_right(self.starts, row) - 1
        key = (id(self), group)
        if key not in _GROUPS:
            table = self.file.read_row_group(group, columns=[self.column])
            _GROUPS[key] = image_bytes(table.column(0))
            _GROUP_BYTES[key] = sum(len(b or b"") for b in _GROUPS[key])
        _GROUPS.move_to_end(key)
        # the budget holds at every read (not only when a group is added): the newest stays
        while sum(_GROUP_BYTES.values()) > GROUP_CACHE_BYTES and len(_GROUPS) > 1:
            _GROUP_BYTES.pop(_GROUPS.popitem(last=False)[0])
        return _GROUPS[key][row - self.starts[group]]

    def close(self) -> None:
        for key in [k for k in _GROUPS if k[0] == id(self)]:
            del _GROUPS[key], _GROUP_BYTES[key]


_OPEN: OrderedDict[tuple[str, int, str], _Open] = OrderedDict()
# decoded row groups of the open parquet shards, least recently used first, within a budget
_GROUPS: OrderedDict[tuple[int, int], list[bytes | None]] = OrderedDict()
_GROUP_BYTES: dict[tuple[int, int], int] = {}


def read_row(item: ImageItem) -> bytes:
    """The image bytes of a row item. ``OSError`` when the shard is gone or unreadable;
    ``LookupError`` when the row is no longer there; ``ValueError`` for bytes it lacks."""
    import pyarrow as pa

    key = (str(item.abspath), item.mtime, item.column)
    try:
        if key not in _OPEN:
            _OPEN[key] = _Open(item.abspath, item.column)
            while len(_OPEN) > OPEN_SHARDS:
                _OPEN.popitem(last=False)[1].close()
        _OPEN.move_to_end(key)
        data = _OPEN[key].row(item.offset)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"unreadable shard: {exc}") from None
    if not data:
        raise ValueError("no image bytes in this row")
    return data
