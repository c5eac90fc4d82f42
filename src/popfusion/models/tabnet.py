"""TabNet (pytorch-tabnet) with the seeds' schedule: unsupervised pretraining on half of
the training rows, then supervised fine-tuning on the other half."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd

from popfusion.features.base import resolve_device
from popfusion.linalg import padded_rows
from popfusion.models.base import Model, Preprocessor
from popfusion.training.target import LabelTransform


class TabNet(Model):
    """TabNet (pytorch-tabnet) with self-supervised pretraining on half the rows, then
    fitted as a regressor; ``width`` is both n_d and n_a."""

    kind = "tabnet"

    def __init__(self, width: int = 16, steps: int = 3, pretrain_epochs: int = 10, epochs: int = 40,
                 batch_size: int = 1024, patience: int = 8, seed: int = 0, device: str = "auto") -> None:
        super().__init__(width=width, steps=steps, pretrain_epochs=pretrain_epochs, epochs=epochs,
                         batch_size=batch_size, patience=patience, seed=seed, device=device)

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> TabNet:
        from pytorch_tabnet.pretraining import TabNetPretrainer
        from pytorch_tabnet.tab_model import TabNetRegressor

        p = self.params
        self.prep_ = Preprocessor().fit(X)
        self.target_ = LabelTransform("standard").fit(y)
        x = self.prep_.transform(X)
        y = self.target_.transform(y).astype(np.float32).reshape(-1, 1)
        order = np.random.default_rng(p["seed"]).permutation(len(x))
        half, rest = order[: len(x) // 2], order[len(x) // 2 :]
        common = {"n_d": p["width"], "n_a": p["width"], "n_steps": p["steps"], "seed": p["seed"],
                  "verbose": 0, "device_name": resolve_device(p["device"])}
        batch = min(p["batch_size"], max(32, len(half) // 4))
        evals = {}
        if X_val is not None:
            y_val = self.target_.transform(y_val).astype(np.float32).reshape(-1, 1)
            evals = {"eval_set": [(self.prep_.transform(X_val), y_val)], "patience": p["patience"]}
        with _quiet():
            pre = TabNetPretrainer(**common)
            pre.fit(x[half], max_epochs=p["pretrain_epochs"], batch_size=batch,
                    virtual_batch_size=min(128, batch), num_workers=0)
            self.model_ = TabNetRegressor(**common)
            self.model_.fit(x[rest], y[rest], from_unsupervised=pre, max_epochs=p["epochs"],
                            batch_size=batch, virtual_batch_size=min(128, batch), num_workers=0,
                            weights=0 if weight is None else np.asarray(weight, float)[rest], **evals)
        return self

    def budget(self) -> dict:
        stopped = getattr(self.model_, "best_epoch", None)  # set only with an eval set
        return {"epochs": stopped + 1} if stopped is not None else {}

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        x = self.prep_.transform(X)  # full batches only: a row's output does not depend on its batch
        z = self.model_.predict(padded_rows(x, self.model_.batch_size))[: len(x)]
        return self.target_.inverse(z.ravel().astype(np.float64))

    def feature_importance(self) -> pd.Series:
        imp = self.model_.feature_importances_[: len(self.prep_.columns_)]
        return pd.Series(imp, index=self.prep_.columns_).sort_values(ascending=False)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence pytorch-tabnet's chatter, which it prints even at verbose=0: each fit
    printed its stopping epoch and UserWarnings about its own defaults (which weights it
    keeps, that it loads the pretrained ones), 132 lines in the log of an smp run at 10K
    posts. The ensemble already logs each fit; warnings from other libraries still pass."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pytorch_tabnet\.")
        yield
