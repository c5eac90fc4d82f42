"""`popfusion serve` under load, on real posts: latency of one post, throughput of batches,
50 clients held for a minute, and a worker killed under load.

    python benchmarks/service.py                 # train (once) and measure; writes BENCHMARKS.md
    python benchmarks/service.py --hold 20       # a shorter hold

A `serve` run (the fast preset without look-ahead) is trained on the Hacker News case of
benchmarks/real.py (read from ../shared, never copied) and served with `popfusion serve`
in 2 worker processes on 127.0.0.1. Requests carry the platform's own column names, so
the run's column map is exercised too. Every request goes to this machine's loopback
only, bounded in count and time. Measured:
- latency of /predict for one post without an image, one request at a time (p50, p99);
- posts per second for batches of 1,000 posts, one request at a time;
- 50 concurrent clients for ``--hold`` seconds: errors, p50 and p99;
- the same with one worker process killed half way: every request is retried on a
  connection error, and every 200 must carry the same score as `popfusion predict`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
from real import CASES, read_case
from report import machine, write_section

from popfusion.atomic import atomic_write

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "service.json"
CASE = "hackernews"
PORT = 8765
URL = f"http://127.0.0.1:{PORT}"
CLI = [sys.executable, "-c", "from popfusion.cli import cli; cli()"]


def train(work: Path) -> Path:
    """A serve run of the case (reused when its folder is complete)."""
    run = work / "run"
    if (run / "manifest.json").is_file():
        return run
    train_rows, test_rows = read_case(CASE)
    data = work / "posts.csv"
    pd.concat([train_rows, test_rows.assign(label="")]).to_csv(data, index=False)
    command = ["run", "serve", "--data", str(data), "--map", CASES[CASE][1], "--out", str(run), "-q"]
    subprocess.run([*CLI, *command], check=True, env=os.environ | {"POPFUSION_HOME": str(work / "home")})
    return run


def posts(n: int) -> list[dict]:
    _, test_rows = read_case(CASE)
    return test_rows.drop(columns=["label"]).head(n).to_dict("records")


def expected_scores(run: Path, items: list[dict], work: Path) -> dict[str, float]:
    """What `popfusion predict` writes for the posts."""
    data, out = work / "drafts.csv", work / "expected.csv"
    pd.DataFrame(items).to_csv(data, index=False)
    subprocess.run([*CLI, "predict", str(run), "--data", str(data), "--map", CASES[CASE][1], "--out", str(out),
                    "-q"], check=True, env=os.environ | {"POPFUSION_HOME": str(work / "home")})
    frame = pd.read_csv(out, dtype={"post_id": str})
    return dict(zip(frame["post_id"], frame["popularity_score"], strict=True))


def start(run: Path) -> subprocess.Popen:
    server = subprocess.Popen([*CLI, "serve", str(run), "--port", str(PORT), "--workers", "2", "-q"],
                              stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(URL + "/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the service did not start in 120 s")


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "requests": len(ms)}


async def sequential(items: list[dict], n: int) -> dict:
    async with httpx.AsyncClient(base_url=URL, timeout=30) as client:
        for item in items[:5]:  # warm both workers
            await client.post("/predict", json=item)
        took = []
        for i in range(n):
            t = time.perf_counter()
            (await client.post("/predict", json=items[i % len(items)])).raise_for_status()
            took.append(time.perf_counter() - t)
    return percentiles(took)


async def batches(items: list[dict], size: int, n: int) -> dict:
    batch = {"posts": items[:size]}  # distinct posts: a batch with a repeated id is refused
    async with httpx.AsyncClient(base_url=URL, timeout=120) as client:
        await client.post("/predict", json=batch)
        t = time.perf_counter()
        for _ in range(n):
            (await client.post("/predict", json=batch)).raise_for_status()
        seconds = time.perf_counter() - t
    return {"batch": size, "batches": n, "posts_per_second": size * n / seconds}


async def hold(items: list[dict], clients: int, seconds: float, expected: dict[str, float],
               kill_at: float | None = None, server: subprocess.Popen | None = None) -> dict:
    """``clients`` loops posting one post each until ``seconds`` pass; with ``kill_at``,
    one worker process is killed that many seconds in. A connection error is retried (the
    request got no answer); a 200 must carry the expected score."""
    took, errors, retried, wrong, killed = [], 0, 0, 0, []
    end = time.monotonic() + seconds

    async def client_loop(k: int) -> None:
        nonlocal errors, retried, wrong
        async with httpx.AsyncClient(base_url=URL, timeout=30) as client:
            i = k
            while time.monotonic() < end:
                item = items[i % len(items)]
                t = time.perf_counter()
                try:
                    answer = await client.post("/predict", json=item)
                except httpx.TransportError:
                    retried += 1
                    continue
                took.append(time.perf_counter() - t)
                if answer.status_code != 200:
                    errors += 1
                elif abs(answer.json()["scores"][0]["score"] - expected[str(item["id"])]) > 1e-9:
                    wrong += 1
                i += clients

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        workers = [c for c in psutil.Process(server.pid).children()  # uvicorn's workers, not the
                   if "spawn_main" in " ".join(c.cmdline())]       # resource tracker nor encoder pools
        killed.append(workers[0].pid)
        os.kill(workers[0].pid, signal.SIGKILL)

    tasks = [client_loop(k) for k in range(clients)] + ([killer()] if kill_at is not None else [])
    await asyncio.gather(*tasks)
    return {"clients": clients, "seconds": seconds, "errors": errors, "wrong_scores": wrong, "killed": killed,
            "connection_errors_retried": retried, **percentiles(took)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds to hold 50 clients")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "popfusion-service")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    run = train(args.work)
    many = posts(1000)
    items = many[:200]
    expected = expected_scores(run, items, args.work)
    server = start(run)
    try:
        result = {"case": CASE, "machine": machine(), "date": time.strftime("%Y-%m-%d"),
                  "one_post": asyncio.run(sequential(items, 300)),
                  "batch_1000": asyncio.run(batches(many, 1000, 5)),
                  "hold_50": asyncio.run(hold(items, 50, args.hold, expected)),
                  "hold_50_worker_killed": asyncio.run(
                      hold(items, 50, args.hold, expected, kill_at=args.hold / 2, server=server))}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    atomic_write(RESULT, json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    write_section(section(result))


def section(r: dict) -> str:
    batch, held, killed = r["batch_1000"], r["hold_50"], r["hold_50_worker_killed"]
    o = r["one_post"]
    one = f"p50 {o['p50_ms']:.1f} ms, p99 {o['p99_ms']:.1f} ms ({o['requests']} requests)"
    retried = killed["connection_errors_retried"]
    return f"""## Scoring service under load

`python benchmarks/service.py` ({r['date']}; {r['machine']}): a `serve` run (the fast preset without
look-ahead) on the Hacker News case, `popfusion serve --workers 2` on 127.0.0.1, requests in the
platform's own column names. Targets on 2 cores: p99 under 50 ms for one post, 2,000 posts/s in batches.

| measure | result |
|---|---|
| /predict, one post, one request at a time | {one} |
| /predict, batches of 1,000 posts | {batch['posts_per_second']:,.0f} posts/s |
| 50 clients for {held['seconds']:.0f} s | {_held(held)} |
| the same, one worker killed half way | {_held(killed)}, {retried} connection errors retried |

{r.get('notes', '')}
"""


def _held(h: dict) -> str:
    return (f"{h['requests']:,} answered, {h['errors']} errors, {h['wrong_scores']} wrong scores; "
            f"p50 {h['p50_ms']:.0f} ms, p99 {h['p99_ms']:.0f} ms")


if __name__ == "__main__":
    main()
