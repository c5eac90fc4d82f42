"""A multilayer perceptron for user and metadata features (torch)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.models.base import Model, Preprocessor
from popfusion.models.torchfit import predict, seed_everything, train_regressor
from popfusion.training.target import LabelTransform


class MLP(Model):
    kind = "mlp"

    def __init__(self, hidden: tuple[int, ...] = (256, 128), dropout: float = 0.1, epochs: int = 30,
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0) -> None:
        super().__init__(hidden=list(hidden), dropout=dropout, epochs=epochs, batch_size=batch_size,
                         lr=lr, seed=seed)

    def fit(self, X, y, X_val=None, y_val=None) -> MLP:
        from torch import nn

        p = self.params
        seed_everything(p["seed"])
        self.prep_ = Preprocessor().fit(X)
        x = self.prep_.transform(X)
        layers, width = [], x.shape[1]
        for h in p["hidden"]:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.SiLU(), nn.Dropout(p["dropout"])]
            width = h
        self.net_ = nn.Sequential(*layers, nn.Linear(width, 1))
        x_val = self.prep_.transform(X_val) if X_val is not None else None
        self.target_ = LabelTransform("standard").fit(y)
        self.epochs_ = train_regressor(self.net_, x, self.target_.transform(y), x_val,
                                       None if y_val is None else self.target_.transform(y_val),
                                       epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                                       seed=p["seed"])
        return self

    def budget(self) -> dict:
        return {"epochs": self.epochs_}

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.target_.inverse(predict(self.net_, self.prep_.transform(X)).numpy().astype(np.float64))
