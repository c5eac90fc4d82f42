"""Stream the records of a large JSON array file in parsed chunks.

SMPD's user-data file holds 799 floats a post: parsed whole, the full dataset's file
would need tens of GB of Python objects. Reading it through a memory map, a few tens of
MB at a time, keeps memory bounded by the arrays we keep, not by the text.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import orjson

from popfusion.data.schema import DataError

CHUNK_BYTES = 1 << 25
_SPACE = b" \t\r\n"
T = TypeVar("T")


def parse_records(text: bytes) -> list[dict]:
    """The default chunk parser: a JSON array of objects."""
    return orjson.loads(text)


def iter_record_chunks(
    path: Path,
    parse: Callable[[bytes], T] = parse_records,
    chunk_bytes: int = CHUNK_BYTES,
    workers: int = 1,
) -> Iterator[T]:
    """Yield ``parse(chunk)``, in file order, for record-aligned chunks (each a JSON array)
    of a file holding one JSON array of objects; ``workers`` > 1 parses in processes.

    Chunks end at a '}' that closes a record; in the rare case that a '}' inside a string
    is taken for one, the chunk fails to parse and is parsed again up to the array's end,
    so the result never depends on where a chunk was cut. ``parse`` signals bad JSON with
    ``orjson.JSONDecodeError`` and must be picklable when ``workers`` > 1.
    """
    spans, close = _spans(path, chunk_bytes)
    jobs = [(path, start, end, parse) for start, end in spans]
    pool = ProcessPoolExecutor(min(workers, len(jobs))) if workers > 1 and len(jobs) > 1 else None
    try:
        results = pool.map(_parse_span, jobs) if pool else map(_parse_span, jobs)
        for (start, end), (ok, value) in zip(spans, results, strict=True):
            if not ok and end != close:  # a '}' inside a string: parse the rest in one go
                ok, value = _parse_span((path, start, close, parse))
                if ok:
                    yield value
                    return
            if not ok:
                _fail(path, start + value[0] - 1, f"malformed JSON ({value[1]})")
            yield value
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


def _spans(path: Path, chunk_bytes: int) -> tuple[list[tuple[int, int]], int]:
    """Byte ranges of record-aligned chunks, and the offset of the closing ']'."""
    with open(path, "rb") as fh:
        if fh.seek(0, 2) == 0:
            raise DataError("empty file, expected a JSON array", source=str(path))
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = _skip(mm, 0, _SPACE)
            close = mm.rfind(b"]")
            if pos >= len(mm) or mm[pos : pos + 1] != b"[" or close < pos:
                raise DataError("expected a JSON array of records", source=str(path))
            if mm[close + 1 :].strip(_SPACE):
                _fail(path, close + 1, "unexpected text after the JSON array")
            spans = []
            pos = _skip(mm, pos + 1, _SPACE)
            while pos < close:
                end = mm.find(b"}", pos + chunk_bytes, close)
                end = close if end < 0 else end + 1
                spans.append((pos, end))
                pos = _skip(mm, end, _SPACE + b",")
    return spans, close


def _parse_span(job: tuple[Path, int, int, Callable[[bytes], T]]) -> tuple[bool, object]:
    """(True, parsed) or (False, (error offset in the chunk, message))."""
    path, start, end, parse = job
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        text = b"[" + mm[start:end] + b"]"
    try:
        return True, parse(text)
    except orjson.JSONDecodeError as err:
        return False, (err.pos, err.msg)


def _skip(mm: mmap.mmap, pos: int, chars: bytes) -> int:
    n = len(mm)
    while pos < n and mm[pos] in chars:
        pos += 1
    return pos


def _fail(path: Path, offset: int, message: str) -> None:
    with open(path, "rb") as fh:
        line = fh.read(max(0, offset)).count(b"\n") + 1
    raise DataError(f"{message} at line {line}, byte {offset}", source=str(path))
