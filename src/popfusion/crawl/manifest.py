"""The crawl manifest: an append-only log of what finished, so nothing is lost and
nothing is done twice.

Each finished item appends one JSON line (done with its result, or failed with the
reason) and flushes it to disk before the next is counted. A kill can at worst cut the
last line short; that line is ignored on reading, so its item is simply fetched again.
The last line of an item wins, which is how ``--retry-failed`` turns failures into
successes without rewriting the file.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson


@dataclass
class Entry:
    key: str
    status: str  # "done" or "failed"
    reason: str = ""
    result: dict = field(default_factory=dict)
    at: str = ""


class Manifest:
    """Item states read from and appended to ``path`` (JSON lines)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, Entry] = {}
        self.lock = threading.Lock()
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):  # end a cut-off line, so the next append stands alone
            with open(self.path, "ab") as fh:
                fh.write(b"\n")
        for line in data.splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut short by a kill: its item is pending again
            self.entries[record["key"]] = Entry(**record)

    def status(self, key: str) -> str:
        entry = self.entries.get(key)
        return entry.status if entry else "pending"

    def done(self, key: str, result: dict | None = None) -> None:
        self._append(Entry(key, "done", result=result or {}))

    def failed(self, key: str, reason: str) -> None:
        self._append(Entry(key, "failed", reason=reason))

    def _append(self, entry: Entry) -> None:
        entry.at = datetime.now(UTC).isoformat(timespec="seconds")
        line = orjson.dumps(entry.__dict__) + b"\n"
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            self.entries[entry.key] = entry

    def results(self) -> dict[str, dict]:
        """Results of the items that are done, by key."""
        return {k: e.result for k, e in self.entries.items() if e.status == "done"}

    def failures(self) -> dict[str, str]:
        """Reasons of the items that failed, by key."""
        return {k: e.reason for k, e in self.entries.items() if e.status == "failed"}
