"""AutoGluon's TabularPredictor as one tier-1 model, as the SMP-2025 solution used it beside
its own models: fitted within popfusion's folds like any other, so its out-of-fold
predictions join the blend, which decides what it is worth.

AutoGluon pins its own versions of pandas and others, so it runs in an environment of
its own: each fit and prediction is a subprocess (``ag_task.py``) of a Python that has
AutoGluon. That is, in order: the model's ``python`` parameter, this interpreter if it
can import AutoGluon, or a virtual environment under the popfusion cache, created on
first use (pip install; the one time this model downloads anything). The fitted
predictor travels inside the model as an archive, so checkpoints and saved runs stay
one file each. Predictions go to one AutoGluon process per fitted model, started at the
first prediction and kept until the model is dropped: a run asks a model for many
(out-of-fold rows, test rows, permutation importance), and each new process would pay
AutoGluon's start and the predictor's load again, seconds every time.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.models.base import Model

log = logging.getLogger(__name__)
REQUIREMENTS = ["torch==2.13.0", "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.*", "pyarrow"]
TASK = Path(__file__).with_name("ag_task.py")
LABEL, WEIGHT = "__label__", "__weight__"  # as ag_task.py names them
EXPLAIN_BACKGROUND = 5


def venv_python(venv: Path) -> Path:
    """The Python of an AutoGluon environment at ``venv``, made there first if it has
    none (torch's CPU wheel first, so AutoGluon does not pull a CUDA build)."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import autogluon.tabular"],
                                          capture_output=True).returncode == 0:
        return python
    log.info("installing AutoGluon into %s (its own environment; about 2 minutes)", venv)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", REQUIREMENTS[0]], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *REQUIREMENTS[1:]], check=True)
    log.info("AutoGluon installed in %.0f s", time.perf_counter() - start)
    return python


def autogluon_python(python: str | None = None) -> Path:
    """The Python that runs AutoGluon (see the module's docstring)."""
    if python:
        return Path(python)
    try:
        if importlib.util.find_spec("autogluon.tabular") is not None:
            return Path(sys.executable)
    except ModuleNotFoundError:  # no autogluon package at all
        pass
    from popfusion.data.synthetic import cache_dir

    return venv_python(cache_dir() / "ag-venv")


class AutoGluon(Model):
    """AutoGluon's TabularPredictor with a ``preset`` and a ``time_limit`` in seconds per
    fit (``exclude``: AutoGluon model types to leave out; random forests and extra trees by
    default, which ran far past their time limit on popfusion's wide frames: BENCHMARKS.md;
    ``python``: the interpreter of an environment that has AutoGluon). It holds out its
    own validation rows, so a fold's early-stopping rows join its training rows."""

    kind = "autogluon"

    def __init__(self, preset: str = "medium_quality", time_limit: float = 300.0,
                 exclude: tuple[str, ...] = ("RF", "XT"), python: str | None = None) -> None:
        super().__init__(preset=preset, time_limit=time_limit, exclude=list(exclude), python=python)

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> AutoGluon:
        p = self.params
        train = X.assign(**{LABEL: np.asarray(y, float)})
        if weight is not None:
            train[WEIGHT] = np.asarray(weight, float)
        if X_val is not None:
            val = X_val.assign(**{LABEL: np.asarray(y_val, float)})
            train = pd.concat([train, val.assign(**{WEIGHT: 1.0}) if weight is not None else val])
        with tempfile.TemporaryDirectory(prefix="popfusion-ag-") as tmp:
            folder = Path(tmp)
            train.reset_index(drop=True).to_parquet(folder / "train.parquet")
            command = [str(autogluon_python(p["python"])), str(_script(folder)), "fit", str(folder), "--preset",
                       p["preset"], "--time-limit", str(p["time_limit"]), "--exclude", ",".join(p["exclude"])]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"AutoGluon's fit failed:\n{_tail(done.stderr)}")
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(folder / "predictor", arcname="predictor")
            self.archive_ = buf.getvalue()
        self.columns_ = list(X.columns)
        return self

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        server = self._server()
        rows, out = server.folder / "rows.parquet", server.folder / "prediction.parquet"
        X[self.columns_].reset_index(drop=True).to_parquet(rows)
        return server.ask(rows, out)

    def contributions(self, X, background, *, texts=None) -> tuple[pd.DataFrame, np.ndarray]:
        """Model-agnostic Shapley values as for any model, against ``EXPLAIN_BACKGROUND``
        background rows rather than all of them: every masked row goes through AutoGluon,
        and the report's explanation of 200 hold-out posts sent about 16 million rows
        (measured: 5 posts, 396,652 rows, 24 s on vaccine tweets). Base plus
        contributions still equals each prediction."""
        return super().contributions(X, background.iloc[:EXPLAIN_BACKGROUND], texts=texts)

    def _server(self) -> _Server:
        if getattr(self, "server_", None) is None or not self.server_.alive():
            self.server_ = _Server(self.archive_, autogluon_python(self.params["python"]))
        return self.server_

    def __getstate__(self) -> dict:
        return {**self.__dict__, "server_": None}  # a process stays with this one


class _Server:
    """One AutoGluon process that holds a fitted predictor and predicts on request."""

    def __init__(self, archive: bytes, python: Path) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="popfusion-ag-")
        self.folder = Path(self.tmp.name)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(self.folder, filter="data")
        self.errors = open(self.folder / "stderr.txt", "w+")  # noqa: SIM115 -- lives with the process
        self.process = subprocess.Popen([str(python), str(_script(self.folder)), "serve", str(self.folder)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                        text=True)
        weakref.finalize(self, _stop, self.process, self.errors, self.tmp)

    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, rows: Path, out: Path) -> np.ndarray:
        self.process.stdin.write(f"{rows}\t{out}\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "done":
            self.errors.seek(0)
            raise RuntimeError(f"AutoGluon's prediction failed:\n{_tail(self.errors.read())}")
        return pd.read_parquet(out)["prediction"].to_numpy(float)


def _stop(process: subprocess.Popen, errors, tmp: tempfile.TemporaryDirectory) -> None:
    if process.poll() is None:
        process.stdin.close()  # the server's loop ends with its input
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    errors.close()
    tmp.cleanup()


def _script(folder: Path) -> Path:
    """A copy of ``ag_task.py`` in ``folder``, to run from there: run from this package,
    the folder of this module (``autogluon.py``) would come first on its path and stand in
    for the autogluon package."""
    return Path(shutil.copy(TASK, folder / TASK.name))


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
