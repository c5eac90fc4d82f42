"""Smoke test of benchmarks/compare.py: popfusion's path end to end on a tiny synthetic
SMPD (AutoGluon is not installed in CI), the HyFea baseline, and the report."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def compare():
    sys.path.insert(0, str(BENCHMARKS))
    import compare as module

    yield module
    sys.path.remove(str(BENCHMARKS))


def test_compare_runs_popfusion_end_to_end(tmp_path: Path, compare) -> None:
    args = argparse.Namespace(posts=400, seed=3, new_posts=80, systems="fast", budget=None, ag_exclude="",
                              bootstrap=20, work=tmp_path, ag_venv=tmp_path / "no-venv", no_write=True,
                              resume=False)
    result = compare.compare(args)
    assert set(result["systems"]) == {"fast"} and 0.5 < result["oracle_src"] <= 1
    r = result["systems"]["fast"]
    assert -1 <= r["src"]["low"] <= r["src"]["value"] <= r["src"]["high"] <= 1 and r["src"]["value"] > 0
    assert r["mae"]["value"] < 3.0  # 400 posts are noisy: shuffled scores 3.6 here, the training median 2.6
    assert r["wall_seconds"] > 0 and r["peak_gb"] > 0.05 and r["predict_posts_per_s"] > 0
    assert not (tmp_path / "no-venv").exists()  # AutoGluon untouched without an ag system
    assert "popfusion fast" in compare.table(result)
    ag = {"time_limit": 90.2, "excluded_model_types": ["RF"]}
    with_ag = {**result, "systems": {**result["systems"], "ag_best": ag}}
    assert compare.reproduce(with_ag) == [  # each system's own options, written out
        "`python benchmarks/compare.py --posts 400 --seed 3 --systems fast`",
        "`python benchmarks/compare.py --posts 400 --seed 3 --systems ag_best --budget 90 --ag-exclude RF`"]
    bigger = {**result, "posts": 800}
    assert "x" in compare.growth([result, bigger])[0]
    assert compare.plot([result, bigger], tmp_path / "plot.png").stat().st_size > 1000


def test_a_resumed_run_adds_up_its_sittings(tmp_path: Path, compare) -> None:
    """A full-size smp run outlasts a session: a killed sitting leaves its last sample,
    the resumed one adds its own, and a fresh run starts the count again."""
    ledger, log = tmp_path / "smp.sittings.json", tmp_path / "smp.log"
    compare.Sittings(ledger, resume=False).update(30.0, 2 * 2**30)  # killed after 30 s at 2 GB
    resumed = compare.Sittings(ledger, resume=True)
    compare.measure([sys.executable, "-c", "print('second sitting')"], log=log, on_sample=resumed.update)
    total = resumed.total()
    assert total["sittings"] == 2 and 30 < total["wall_seconds"] < 60 and total["peak_gb"] == 2.0
    compare.measure([sys.executable, "-c", "print('third sitting')"], log=log)
    assert log.read_text().count("\n== ") == 1 and "second sitting" in log.read_text()  # earlier output kept
    fresh = compare.Sittings(ledger, resume=False)
    fresh.update(5.0, 2**30)
    assert fresh.total() == {"wall_seconds": 5.0, "peak_gb": 1.0, "memory": "pss", "sittings": 1}
    assert "in 2 sittings" in compare.table({"systems": {"smp": {
        "name": "popfusion smp", **total, "predict_posts_per_s": 10.0,
        "src": {"value": 0.8, "low": 0.7, "high": 0.9}, "mae": {"value": 0.8, "low": 0.7, "high": 0.9}}}})


def test_hyfea_baseline_learns_the_user_effect(synth_small: Path, compare) -> None:
    from hyfea import HyFea
    from scipy.stats import spearmanr

    from popfusion import load

    posts = load(synth_small)
    model = HyFea(folds=3, iterations=60).fit(posts)
    train = posts[posts["split"] == "train"]
    assert len(model.models_) == 3
    assert spearmanr(model.predict(train), train["label"])[0] > 0.5
    assert np.isfinite(model.predict(posts[posts["split"] == "test"])).all()


def test_tree_memory_counts_pages_shared_by_a_fork_once(compare) -> None:
    # 200 MB written, then a fork: both processes map the same pages until they write
    code = ("import os, sys, time, numpy as np; a = np.ones(25_000_000); pid = os.fork()\n"
            "if pid: print('forked', flush=True)\ntime.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "forked"
        root = psutil.Process(proc.pid)
        rss = sum(p.memory_info().rss for p in [root, *root.children()])
        pss = compare.tree_memory(root)
        assert rss > 2 * 200e6  # the sum of RSS counts the array twice
        assert 200e6 < pss < 1.3 * 200e6 + 60e6  # PSS once (plus two interpreters)
    finally:
        for p in psutil.Process(proc.pid).children():
            p.kill()
        proc.kill()
