"""popfusion on a Ray cluster: the same predictions as in one process, every embedding
batch and model fit run as a Ray task, and a worker killed in the middle of each kind of
task costs nothing but its retry. The tests start a local cluster of 2 CPUs and stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from popfusion.api import PopFusion
from popfusion.data import synthetic
from popfusion.data.table import load
from popfusion.recipe import Recipe

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

RECIPE = {
    "name": "ray-test",
    "features": [{"block": "meta"}, {"block": "user"},
                 {"block": "text", "params": {"backend": "use", "fields": ["title"], "components": 8,
                                              "batch_size": 512}}],
    "models": [{"name": "lgb_all", "model": "lightgbm", "features": ["all"], "params": {"n_estimators": 60}},
               {"name": "cat_user", "model": "catboost", "features": ["meta", "user"],
                "params": {"iterations": 60}},
               {"name": "ridge_all", "model": "ridge", "features": ["all"]},
               {"name": "mlp_user", "model": "mlp", "features": ["meta", "user"], "params": {"epochs": 3}}],
    "pseudo": {"rounds": 1, "share": 0.3},
    "bootstrap": 0,
}


@pytest.fixture(scope="module")
def posts() -> pd.DataFrame:
    return load(synthetic.ensure_sample())


@pytest.fixture(scope="module")
def in_process(posts: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The predictions without Ray (no ray import on this path: checked in a subprocess)."""
    folder = tmp_path_factory.mktemp("local")
    model = PopFusion(Recipe(**RECIPE), cache_dir=folder / "cache", checkpoints=folder / "ck").fit(posts)
    return model.test_predictions_


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


class TaskWatcher:
    """Sees which Ray tasks run (their worker's process title is ``ray::<task>``) and
    kills the first worker found running each of ``kill``."""

    def __init__(self, kill: tuple[str, ...] = ()) -> None:
        self.seen: set[str] = set()
        self.killed: list[str] = []
        self.kill = set(kill)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> TaskWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _watch(self) -> None:
        while not self.stop.is_set():
            for proc in psutil.process_iter(["cmdline"]):
                title = " ".join(proc.info["cmdline"] or []).strip()
                if not title.startswith("ray::"):
                    continue
                task = title.removeprefix("ray::")
                self.seen.add(task)
                if task in self.kill:
                    self.kill.discard(task)
                    time.sleep(0.2)  # into the middle of its work
                    try:
                        proc.send_signal(signal.SIGKILL)
                        self.killed.append(task)
                    except psutil.NoSuchProcess:
                        self.kill.add(task)  # it finished first: kill the next one
            time.sleep(0.01)


def _fit_on_ray(posts: pd.DataFrame, folder: Path) -> PopFusion:
    recipe = Recipe(**{**RECIPE, "compute": {"ray": "auto"}})
    return PopFusion(recipe, cache_dir=folder / "cache", checkpoints=folder / "ck").fit(posts)


def test_a_run_on_ray_predicts_what_it_predicts_in_one_process(posts, in_process, cluster, tmp_path):
    with TaskWatcher() as watcher:
        model = _fit_on_ray(posts, tmp_path)
    assert {"fit_model", "encode_batch"} <= watcher.seen  # the work ran as Ray tasks
    pd.testing.assert_frame_equal(model.test_predictions_, in_process, check_exact=True)
    assert ray.is_initialized()  # a cluster it joined is left running
    # what the tasks returned is saved where the driver runs: a driver killed in the middle
    # reruns from these, as without Ray
    assert list((tmp_path / "cache" / "embeddings").rglob("*.npy"))
    assert len(list((tmp_path / "ck").rglob("*.pkl"))) >= 4 * 4  # 4 models, 3 folds and a final fit each


def test_workers_killed_mid_batch_and_mid_fit_are_retried_to_the_same_predictions(posts, in_process, cluster,
                                                                                   tmp_path):
    with TaskWatcher(kill=("encode_batch", "fit_model")) as watcher:
        model = _fit_on_ray(posts, tmp_path)
    assert sorted(watcher.killed) == ["encode_batch", "fit_model"]
    pd.testing.assert_frame_equal(model.test_predictions_, in_process, check_exact=True)


def test_without_ray_nothing_imports_it(tmp_path: Path) -> None:
    code = ("import sys; from popfusion.api import PopFusion; from popfusion.compute import running\n"
            "with running(None): pass\n"
            "assert 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ | {"POPFUSION_HOME": str(tmp_path)})


def test_an_address_with_no_cluster_is_one_clear_error(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", "from popfusion.cli import cli; cli()", "run", "sample",
                          "--ray", "127.0.0.1:9", "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, env=os.environ | {"POPFUSION_HOME": str(tmp_path)})
    assert out.returncode == 1
    assert "no Ray cluster at '127.0.0.1:9'" in out.stderr and "Traceback" not in out.stderr


def test_a_fit_that_fails_on_the_cluster_raises_its_own_error(posts, cluster, tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    bad = {"name": "bad", "model": "lightgbm", "features": ["meta"], "params": {"num_leaves": 1}}
    recipe = Recipe(**{**RECIPE, "features": RECIPE["features"][:1], "models": [bad],
                       "compute": {"ray": "auto"}})
    with pytest.raises(lightgbm.basic.LightGBMError, match="num_leaves"):
        PopFusion(recipe, cache_dir=tmp_path / "cache").fit(posts)
