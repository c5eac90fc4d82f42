"""Chunked reading of large JSON arrays gives exactly what one parse of the file gives."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from popfusion import DataError
from popfusion.data.jsonarray import iter_record_chunks

RECORDS = [{"i": i, "s": "}, {" * (i % 3) + "x}" * (i % 2), "v": [i / 7] * 5} for i in range(300)]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("chunk_bytes", [1, 50, 997, 10**6])
def test_chunks_join_to_the_whole_file(tmp_path: Path, chunk_bytes: int, workers: int) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"  " + orjson.dumps(RECORDS).replace(b"},{", b"},\n {") + b"\n")
    parts = list(iter_record_chunks(path, chunk_bytes=chunk_bytes, workers=workers))
    assert [r for part in parts for r in part] == RECORDS


def test_empty_array_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"[ ]")
    assert list(iter_record_chunks(path)) == []
    path.write_bytes(b'[{"a": 1}] trailing')
    with pytest.raises(DataError, match="unexpected text"):
        list(iter_record_chunks(path))
    path.write_bytes(b'[{"a": 1},\n{"a": }]')
    with pytest.raises(DataError, match=r"malformed JSON .* line 2") as err:
        list(iter_record_chunks(path, chunk_bytes=1))
    assert err.value.source == str(path)
