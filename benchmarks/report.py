"""Shared by the benchmark scripts: what machine this is, and writing BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GB RAM, {platform.machine()}, Python {platform.python_version()}"


def write_section(text: str) -> None:
    """Put ``text`` into BENCHMARKS.md, replacing the section with its heading (first line)."""
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    heading = text.splitlines()[0]
    pattern = re.compile(rf"{re.escape(heading)}\n.*?(?=\n## |\Z)", re.S)
    body = text.rstrip("\n") + "\n"
    doc = pattern.sub(lambda _: body, doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + body
    path.write_text(doc.rstrip("\n") + "\n")
