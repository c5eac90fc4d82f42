"""A multilayer perceptron for user and metadata features (torch)."""

from __future__ import annotations

from popfusion.models.base import Preprocessor
from popfusion.models.torchfit import NetRegressor, seed_everything


class MLP(NetRegressor):
    """A multilayer perceptron (``hidden`` widths, batch norm, SiLU, dropout) trained with
    AdamW on a Huber loss, early stopped on the fold's latest rows."""

    kind = "mlp"

    def __init__(self, hidden: tuple[int, ...] = (256, 128), dropout: float = 0.1, epochs: int = 30,
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0, device: str = "auto") -> None:
        super().__init__(hidden=list(hidden), dropout=dropout, epochs=epochs, batch_size=batch_size,
                         lr=lr, seed=seed, device=device)

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> MLP:
        from torch import nn

        p = self.params
        seed_everything(p["seed"])
        self.prep_ = Preprocessor().fit(X)
        layers, width = [], self.prep_.width
        for h in p["hidden"]:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.SiLU(), nn.Dropout(p["dropout"])]
            width = h
        self.net_ = nn.Sequential(*layers, nn.Linear(width, 1))
        self._train(X, y, X_val, y_val, weight)
        return self
