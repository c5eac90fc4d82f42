"""The model zoo: every model fits, beats a constant, and survives save/load unchanged."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_bert, tiny_roberta

from popfusion.models.base import Model
from popfusion.models.zoo import MODELS, make_model

FAST = {
    "lightgbm": {"n_estimators": 150, "learning_rate": 0.1, "num_leaves": 15},
    "catboost": {"iterations": 150, "learning_rate": 0.1},
    "ridge": {},
    "mlp": {"epochs": 60, "hidden": (64,), "lr": 3e-3, "batch_size": 64},
    "tabnet": {"pretrain_epochs": 2, "epochs": 40, "batch_size": 256, "width": 8},
    "dae_cnn": {"dae_epochs": 3, "epochs": 15, "code": 32},
}


def _data(n: int = 900, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 8)).astype("float32"), columns=[f"f{i}" for i in range(8)])
    X["meta_category__cat"] = rng.integers(-1, 5, n).astype("float32")
    X.loc[rng.random(n) < 0.05, "f3"] = np.nan
    y = 6 + 1.5 * X["f0"].fillna(0) - X["f1"] + 0.5 * (X["meta_category__cat"] == 2) + rng.normal(0, 0.5, n)
    return X, y.to_numpy()


@pytest.mark.parametrize("kind", sorted(FAST))
def test_fits_beats_constant_and_round_trips(kind: str, tmp_path: Path) -> None:
    X, y = _data()
    fit, val, test = slice(0, 600), slice(600, 700), slice(700, 900)
    model = make_model(kind, FAST[kind])
    assert model.fit(X[fit], y[fit], X[val], y[val]) is model
    pred = model.predict(X[test])
    mae, constant = np.abs(pred - y[test]).mean(), np.abs(np.median(y[fit]) - y[test]).mean()
    assert mae < 0.8 * constant, (kind, mae, constant)
    loaded = Model.load(model.save(tmp_path / f"{kind}.pkl"))
    np.testing.assert_array_equal(loaded.predict(X[test]), pred)
    importance = model.feature_importance()
    assert importance is None or set(importance.index) >= {"f0", "f1"}
    # the budget a refit on every row gets: how long the early-stopped fit ran
    budget = model.budget()
    limits = {"n_estimators": 150, "iterations": 150, "epochs": FAST[kind].get("epochs")}
    assert (budget == {}) == (kind == "ridge"), budget
    assert all(1 <= v <= limits[k] for k, v in budget.items()), budget


def test_lightgbm_predicts_what_its_scikit_learn_wrapper_does() -> None:
    """The model predicts through the booster on the frame's values (for speed); the
    numbers must be the wrapper's, with unseen (negative) category codes as missing."""
    X, y = _data()
    model = make_model("lightgbm", FAST["lightgbm"]).fit(X[:600], y[:600], X[600:700], y[600:700])
    test = X[700:].assign(f5=X["f5"][700:].astype("float64"))  # mixed float widths too
    single_block = pd.DataFrame(X[700:].to_numpy(), columns=X.columns)  # its values are a read-only view
    for rows in (test, test.iloc[[3]], X[700:], single_block):
        codes = rows["meta_category__cat"]
        wrapped = rows.assign(meta_category__cat=codes.where(codes >= 0))
        np.testing.assert_array_equal(model.predict(rows), model.model_.predict(wrapped))
        contributions, base = model.contributions(rows, rows)
        shap = model.model_.predict(wrapped, pred_contrib=True)
        np.testing.assert_array_equal(np.column_stack([contributions, base]), shap)
        assert (rows["meta_category__cat"] == codes).all()  # the frame is left as it was


@pytest.mark.parametrize("kind", sorted(FAST))
def test_every_model_honours_row_weights(kind: str) -> None:
    """Half the rows say the label rises with f0, half that it falls, and nothing else
    tells them apart: a model follows whichever half the weights favour."""
    X, _ = _data(800)
    rising = np.arange(len(X)) % 2 == 0
    y = np.where(rising, 1.0, -1.0) * 2 * X["f0"].fillna(0).to_numpy() + 6
    slopes = []
    for favoured in (rising, ~rising):
        weight = np.where(favoured, 20.0, 1.0)
        pred = make_model(kind, FAST[kind]).fit(X, y, weight=weight).predict(X)
        slopes.append(np.corrcoef(pred, X["f0"].fillna(0))[0, 1])
    assert slopes[0] > 0.3 and slopes[1] < -0.3, (kind, slopes)


@pytest.mark.parametrize("kind", ["mlp", "dae_cnn"])
def test_a_last_batch_of_one_row_trains(kind: str) -> None:
    """65 rows in batches of 64 left one row over; the MLP's batch norm refused it."""
    X, y = _data(65)
    model = make_model(kind, {**FAST[kind], "epochs": 2, "batch_size": 64})
    assert np.isfinite(model.fit(X, y).predict(X)).all()


def test_shuffled_batches_cover_every_row_once_and_never_leave_one() -> None:
    import torch

    from popfusion.models.torchfit import shuffled_batches

    gen = torch.Generator().manual_seed(0)
    for n in (1, 64, 65, 129, 130):
        batches = shuffled_batches(n, 64, gen)
        assert sorted(torch.cat(batches).tolist()) == list(range(n))
        assert n == 1 or min(len(b) for b in batches) > 1, (n, [len(b) for b in batches])


def test_a_refit_with_the_budget_runs_as_long_as_the_stopped_fit() -> None:
    X, y = _data()
    stopped = make_model("lightgbm", {**FAST["lightgbm"], "n_estimators": 2000})
    stopped.fit(X[:600], y[:600], X[600:], y[600:])
    budget = stopped.budget()
    assert budget["n_estimators"] < 2000
    refit = make_model("lightgbm", {**FAST["lightgbm"], **budget}).fit(X, y)
    assert refit.model_.booster_.num_trees() == budget["n_estimators"]
    assert refit.budget() == {}  # nothing stopped it


def test_text_regressor_with_a_tiny_local_model(tmp_path: Path) -> None:
    folder = tiny_bert(tmp_path, ["great", "sunset", "boring", "wall", "photo"])
    rng = np.random.default_rng(0)
    good = rng.random(240) < 0.5
    texts = pd.Series(np.where(good, "great sunset photo", "boring wall photo"))
    y = np.where(good, 9.0, 4.0) + rng.normal(0, 0.3, 240)
    X = pd.DataFrame(index=texts.index)
    model = make_model("text_regressor", {"model": folder, "epochs": 8, "lr": 1e-3, "batch_size": 16})
    model.fit(X.iloc[:200], y[:200], texts=texts)
    pred = model.predict(X.iloc[200:], texts=texts)
    assert np.abs(pred - y[200:]).mean() < 0.6 * np.abs(y[:200].mean() - y[200:]).mean()
    loaded = Model.load(model.save(tmp_path / "tr.pkl"))
    np.testing.assert_allclose(loaded.predict(X.iloc[200:], texts=texts), pred, rtol=1e-5)
    with pytest.raises(ValueError, match="needs the posts' texts"):
        loaded.predict(X.iloc[200:])


def test_text_regressor_pretrains_on_the_posts_texts_once(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """In-task pretraining: masked-language-model training on every post's text (the test
    posts' too) before the fine-tune; saved once and reused by a fit on other labels (a
    fold, a rerun), since it reads no label."""
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForMaskedLM

    monkeypatch.setenv("POPFUSION_HOME", str(tmp_path / "home"))
    folder = tiny_roberta(tmp_path / "roberta")
    rng = np.random.default_rng(0)
    good = rng.random(240) < 0.5
    texts = pd.Series(np.where(good, "great sunset photo", "boring wall photo"))
    texts.iloc[200:] += " at night"  # words only the posts to predict have
    y = np.where(good, 9.0, 4.0) + rng.normal(0, 0.3, 240)
    X = pd.DataFrame(index=texts.index)
    params = {"model": folder, "epochs": 8, "lr": 1e-3, "batch_size": 16,
              "pretrain": {"epochs": 3, "mlm_probability": 0.3, "lr": 1e-3}}
    model = make_model("text_regressor", params).fit(X.iloc[:200], y[:200], texts=texts)
    saved = list((tmp_path / "home" / "pretrained").iterdir())
    assert len(saved) == 1
    before, after = (AutoModelForMaskedLM.from_pretrained(f).state_dict() for f in (folder, saved[0]))
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it learnt
    pred = model.predict(X.iloc[200:], texts=texts)
    assert np.abs(pred - y[200:]).mean() < 0.6 * np.abs(y[:200].mean() - y[200:]).mean()
    stamp = saved[0].stat().st_mtime_ns
    make_model("text_regressor", params).fit(X.iloc[:100], y[:100][::-1], texts=texts)
    assert list((tmp_path / "home" / "pretrained").iterdir()) == saved and saved[0].stat().st_mtime_ns == stamp


def _autogluon_here() -> str:
    """The Python of an AutoGluon environment already on this machine (tests never install
    one): $POPFUSION_AUTOGLUON_PYTHON, this interpreter, or the one benchmarks/compare.py
    and the model make under ~/.cache/popfusion."""
    import importlib.util
    import os
    import subprocess
    import sys

    candidates = [os.environ.get("POPFUSION_AUTOGLUON_PYTHON")]
    if importlib.util.find_spec("autogluon") is not None:
        candidates.append(sys.executable)
    candidates.append(str(Path.home() / ".cache" / "popfusion" / "ag-venv" / "bin" / "python"))
    for python in filter(None, candidates):
        if Path(python).exists() and subprocess.run([python, "-c", "import autogluon.tabular"],
                                                    capture_output=True).returncode == 0:
            return python
    pytest.skip("no AutoGluon environment on this machine (python benchmarks/compare.py --systems ag_medium "
                "makes one; or set POPFUSION_AUTOGLUON_PYTHON)")


def test_autogluon_as_a_model_in_its_own_environment(tmp_path: Path) -> None:
    """``model: autogluon`` fits and predicts through its own environment, honours early-
    stopping rows and weights as extra training rows and sample weights, and its saved
    form carries the predictor (it predicts the same after the folder it was fitted in is
    gone); it predicts through one process, which ends with the model."""
    X, y = _data(700)
    params = {"preset": "medium_quality", "time_limit": 60, "python": _autogluon_here(),
              "exclude": ["NN_TORCH", "FASTAI", "RF", "XT", "KNN", "CAT", "XGB"]}
    model = make_model("autogluon", params)
    model.fit(X[:400], y[:400], X[400:450], y[400:450], weight=np.ones(400))
    pred = model.predict(X[450:])
    assert np.abs(pred - y[450:]).mean() < 0.8 * np.abs(np.median(y[:400]) - y[450:]).mean()
    parts, base = model.contributions(X[450:453], X[:100])
    np.testing.assert_allclose(parts.sum(axis=1) + base, pred[:3], atol=1e-6)  # Shapley values add up
    server = model.server_.process.pid
    np.testing.assert_allclose(model.predict(X[450:]), pred)
    assert model.server_.process.pid == server  # one AutoGluon process answers every prediction
    loaded = Model.load(model.save(tmp_path / "ag.pkl"))
    np.testing.assert_allclose(loaded.predict(X[450:]), pred)
    process = loaded.server_.process
    del loaded
    assert process.wait(timeout=30) == 0  # it ends with its model


def test_unknown_model_and_bad_parameters() -> None:
    assert set(MODELS) >= set(FAST) | {"text_regressor"}
    with pytest.raises(ValueError, match="unknown model"):
        make_model("xgboost")
    with pytest.raises(ValueError, match=r"no parameter 'alpah' \(did you mean 'alpha'\?\)"):
        make_model("ridge", {"alpah": 1})


def test_tabnet_fits_without_chatter(capsys: pytest.CaptureFixture) -> None:
    """pytorch-tabnet printed its stopping epoch and warned about its own defaults on
    every fit, with or without an early-stopping set, whatever its verbosity."""
    X, y = _data(300)
    params = {**FAST["tabnet"], "epochs": 3}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_model("tabnet", params).fit(X[:200], y[:200], X[200:], y[200:])
        make_model("tabnet", params).fit(X, y)
        warnings.warn("a warning of our own still shows", UserWarning, stacklevel=1)
    assert capsys.readouterr().out == ""
    assert [str(w.message) for w in caught] == ["a warning of our own still shows"]


class _Bar:
    """What ``fit_steps`` asks of a progress bar, recorded."""

    def __init__(self) -> None:
        self.updates: list[tuple[int, int]] = []
        self.removed = False

    def add_task(self, label: str, total: int | None) -> int:
        return 0

    def update(self, task: int, completed: int, total: int) -> None:
        self.updates.append((completed, total))

    def remove_task(self, task: int) -> None:
        self.removed = True


@pytest.mark.parametrize(("kind", "params", "steps"), [("lightgbm", {"n_estimators": 12}, 12),
                                                       ("catboost", {"iterations": 12}, 12),
                                                       ("mlp", {"epochs": 3}, 3)])
def test_a_long_fit_advances_its_bar_as_it_goes(kind: str, params: dict, steps: int) -> None:
    from popfusion.progress import fit_steps

    X, y = _data(300)
    bar = _Bar()
    with fit_steps(bar, f"{kind} fold 0"):
        make_model(kind, params).fit(X, y)
    done = [d for d, _ in bar.updates]
    assert done == sorted(done) and done[-1] == steps and len(done) >= steps - 1
    assert {t for _, t in bar.updates} == {steps} and bar.removed
