"""Every model by its recipe name."""

from __future__ import annotations

from popfusion.models.autogluon import AutoGluon
from popfusion.models.base import Model
from popfusion.models.dae_cnn import DaeCnn
from popfusion.models.gbdt import CatBoost, LightGBM
from popfusion.models.linear import Ridge
from popfusion.models.mlp import MLP
from popfusion.models.tabnet import TabNet
from popfusion.models.text_regressor import TextRegressor
from popfusion.registry import construct

MODELS: dict[str, type[Model]] = {
    cls.kind: cls for cls in (LightGBM, CatBoost, Ridge, MLP, TabNet, DaeCnn, TextRegressor, AutoGluon)
}


def make_model(kind: str, params: dict | None = None) -> Model:
    return construct(MODELS, kind, params, "model")
