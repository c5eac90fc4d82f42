"""AutoGluon's TabularPredictor as one tier-1 model, as the SMP-2025 solution used it beside
its own models: fitted within popfusion's folds like any other, so its out-of-fold
predictions join the blend, which decides what it is worth.

AutoGluon pins its own versions of pandas and others, so it runs in an environment of
its own: each fit and prediction is a subprocess (``ag_task.py``) of a Python that has
AutoGluon. That is, in order: the model's ``python`` parameter, this interpreter if it
can import AutoGluon, or a virtual environment under the popfusion cache, created on
first use (pip install; the one time this model downloads anything). The fitted
predictor travels inside the model as an archive, so checkpoints and saved runs stay
one file each.
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
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.models.base import Model

log = logging.getLogger(__name__)
REQUIREMENTS = ["torch==2.13.0", "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.*", "pyarrow"]
TASK = Path(__file__).with_name("ag_task.py")
LABEL, WEIGHT = "__label__", "__weight__"  # as ag_task.py names them


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
    fit (``exclude``: AutoGluon model types to leave out, e.g. ``[RF, XT]``; ``python``:
    the interpreter of an environment that has AutoGluon). It holds out its own
    validation rows, so a fold's early-stopping rows join its training rows."""

    kind = "autogluon"

    def __init__(self, preset: str = "medium_quality", time_limit: float = 300.0,
                 exclude: tuple[str, ...] = (), python: str | None = None) -> None:
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
            self._run("fit", folder, "--preset", p["preset"], "--time-limit", str(p["time_limit"]),
                      "--exclude", ",".join(p["exclude"]))
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(folder / "predictor", arcname="predictor")
            self.archive_ = buf.getvalue()
        self.columns_ = list(X.columns)
        return self

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="popfusion-ag-") as tmp:
            folder = Path(tmp)
            with tarfile.open(fileobj=io.BytesIO(self.archive_), mode="r:gz") as tar:
                tar.extractall(folder, filter="data")
            X[self.columns_].reset_index(drop=True).to_parquet(folder / "rows.parquet")
            self._run("predict", folder)
            return pd.read_parquet(folder / "prediction.parquet")["prediction"].to_numpy(float)

    def _run(self, task: str, folder: Path, *args: str) -> None:
        """``ag_task.py TASK FOLDER ARGS`` in AutoGluon's environment, run from a copy in
        ``folder``: run from here, the folder of this module (``autogluon.py``) would come
        first on its path and stand in for the autogluon package."""
        python = autogluon_python(self.params["python"])
        script = Path(shutil.copy(TASK, folder / TASK.name))
        done = subprocess.run([str(python), str(script), task, str(folder), *args], capture_output=True,
                              text=True)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"AutoGluon's {task} failed (python {python}):\n{tail}")
