"""Time reading a full-size synthetic SMPD folder: wall time and peak memory.

    python benchmarks/read_smpd.py --posts 486194 --data /tmp/smpd-486k

generates the folder first if it is not there (about 1.5 minutes, 2.5 GB, no images), then
reads it in a fresh process, once with the 799-float user/location vectors and once
without, and writes the numbers into the "Reading SMPD" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from report import machine, write_section

SECTION = "## Reading SMPD"

CHILD = """
import json, resource, sys, time
from popfusion import load
start = time.perf_counter()
table = load(sys.argv[1], vectors=sys.argv[2] == "1")
seconds = time.perf_counter() - start
usage = resource.getrusage
peak = usage(resource.RUSAGE_SELF).ru_maxrss + usage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_gb": peak / 2**20, "rows": len(table), "columns": table.shape[1]}))
"""


def measure(folder: Path, vectors: bool) -> dict:
    """Read ``folder`` in a fresh process; peak memory counts its worker processes too."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), "1" if vectors else "0"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(name: str, r: dict) -> str:
    return f"| {name} | {r['seconds']:.1f} s | {r['peak_gb']:.2f} GB | {r['rows']:,} x {r['columns']} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=486_194)
    parser.add_argument("--data", type=Path, default=Path("/tmp/popfusion-bench/smpd-486k"))
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md")
    args = parser.parse_args()

    from popfusion.data.synthetic import SynthSpec, generate

    start = time.perf_counter()
    generate(args.data, SynthSpec(posts=args.posts, seed=0, images=False))
    print(f"data ready in {time.perf_counter() - start:.0f} s: {args.data}")
    size_gb = sum(p.stat().st_size for p in args.data.rglob("*") if p.is_file()) / 2**30
    runs = {vectors: measure(args.data, vectors) for vectors in (True, False)}
    for vectors, r in runs.items():
        print(f"vectors={vectors}: {r['seconds']:.1f} s, peak {r['peak_gb']:.2f} GB, "
              f"{r['rows']} rows x {r['columns']} columns")
    text = f"""{SECTION}
`python benchmarks/read_smpd.py --posts {args.posts}` on {machine()}.
A synthetic SMPD folder in the official 2023+ format ({args.posts:,} posts, {size_gb:.1f} GB of JSON),
read into the canonical table by `popfusion.load` in a fresh process (peak memory includes
the worker processes that parse the user-data file). Target: under a minute, a few GB.

| what is read | wall time | peak memory | table |
|---|---|---|---|
{row("everything, with the 399 + 400 description floats a post", runs[True])}
{row("without the description vectors (`vectors=False`)", runs[False])}
"""
    if not args.no_write:
        write_section(text)
        print("BENCHMARKS.md updated")


if __name__ == "__main__":
    main()
