"""A LightGBM fit on a machine other jobs share: OpenMP threads spinning at barriers
(the runtime's default) against sleeping there (OMP_WAIT_POLICY=PASSIVE, popfusion's
default), alone and beside one process that keeps a core busy.

    python benchmarks/threads.py

The fit is fast's lgb_all in shape: 40,000 rows, 570 columns (512 dense, as a raw text
embedding), 300 trees of 63 leaves, half the columns per tree. Each case runs in a fresh
process, since the policy is read once, when the OpenMP runtime starts. Writes the
"Shared cores" section of BENCHMARKS.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from report import machine, write_section

FIT = """
import time, numpy as np, lightgbm as lgb
rng = np.random.default_rng(0)
X = rng.normal(size=(40000, 570)).astype(np.float32)
y = X[:, :20].sum(1) + rng.normal(size=40000)
start = time.perf_counter()
lgb.LGBMRegressor(n_estimators=300, learning_rate=0.03, num_leaves=63, subsample=0.8, subsample_freq=1,
                  colsample_bytree=0.5, n_jobs={threads}, verbose=-1, deterministic=True,
                  force_row_wise=True).fit(X, y)
print(time.perf_counter() - start)
"""
CASES = [("spinning (OpenMP default)", "ACTIVE", 2), ("passive (popfusion)", "PASSIVE", 2),
         ("one thread", "PASSIVE", 1)]


def fit_seconds(policy: str, threads: int, busy: bool) -> float:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(0.5 if busy else 0)
        out = subprocess.run([sys.executable, "-c", FIT.format(threads=threads)], check=True,
                             capture_output=True, text=True, env={**os.environ, "OMP_WAIT_POLICY": policy})
        return float(out.stdout.strip())
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def main() -> None:
    rows = []
    for name, policy, threads in CASES:
        alone, shared = fit_seconds(policy, threads, False), fit_seconds(policy, threads, True)
        print(f"{name}: alone {alone:.1f} s, beside a busy process {shared:.1f} s", flush=True)
        rows.append(f"| {name} | {threads} | {alone:.1f} s | {shared:.1f} s |")
    write_section(f"""## Shared cores
`python benchmarks/threads.py` on {machine()}, {time.strftime('%Y-%m-%d')}: one LightGBM fit
shaped like fast's lgb_all (40,000 rows, 570 columns, 300 trees), alone and beside one
process that keeps a core busy, each in a fresh process.

| OpenMP threads at a barrier | threads | alone | beside a busy process |
|---|---|---|---|
{chr(10).join(rows)}

Spinning threads hold a core the thread they wait for needs, so on a shared machine a fit
slows far more than the share of the machine it lost; sleeping ones do not. popfusion sets
`OMP_WAIT_POLICY=PASSIVE` when it is imported (a value the user set wins): a little slower
alone, much faster shared. Sizing the threads to the free cores instead would change
LightGBM's sums from run to run, so a seed would no longer fix the predictions.
""")


if __name__ == "__main__":
    main()
