"""Rows of parquet / Arrow shards: in order a row group at a time, or one row by its id.

Reading in order (discovery) holds one row group (parquet) or record batch (Arrow) at a time.
``read_row`` serves the decoder: each process keeps its last row group and a few open shards
(an Arrow shard is memory-mapped, so a row is read without copying the file), which makes the
scan's in-order reads cost one pass over the data.
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
        self.group: tuple[int, list[bytes | None]] | None = None
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
        if self.group is None or self.group[0] != group:
            table = self.file.read_row_group(group, columns=[self.column])
            self.group = (group, image_bytes(table.column(0)))
        return self.group[1][row - self.starts[group]]


_OPEN: OrderedDict[tuple[str, int, str], _Open] = OrderedDict()


def read_row(item: ImageItem) -> bytes:
    """The image bytes of a row item. ``OSError`` when the shard is gone or unreadable;
    ``LookupError`` when the row is no longer there; ``ValueError`` for bytes it lacks."""
    import pyarrow as pa

    key = (str(item.abspath), item.mtime, item.column)
    try:
        if key not in _OPEN:
            _OPEN[key] = _Open(item.abspath, item.column)
            while len(_OPEN) > OPEN_SHARDS:
                _OPEN.popitem(last=False)
        _OPEN.move_to_end(key)
        data = _OPEN[key].row(item.offset)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"unreadable shard: {exc}") from None
    if not data:
        raise ValueError("no image bytes in this row")
    return data
