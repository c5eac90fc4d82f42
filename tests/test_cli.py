"""The command line, end to end on small data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_smpd
from typer.testing import CliRunner

from popfusion import __version__
from popfusion.cli import app

runner = CliRunner()


def test_synth_validate_describe(tmp_path: Path) -> None:
    out = tmp_path / "smpd"
    result = runner.invoke(app, ["data", "synth", "--posts", "300", "--out", str(out), "--no-images"])
    assert result.exit_code == 0, result.output
    assert (out / "train_allmetadata_json" / "train_user_data.json").is_file()
    result = runner.invoke(app, ["data", "validate", str(out)])
    assert result.exit_code == 0 and "300 posts" in result.output and "200 train" in result.output
    png = tmp_path / "plot.png"
    result = runner.invoke(app, ["data", "describe", str(out), "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert summary["rows_by_split"] == {"train": 200, "test": 100}
    assert png.is_file()


def test_results_go_to_stdout_logs_to_stderr_with_documented_exit_codes(tmp_path: Path) -> None:
    """stdout holds only a command's result (JSON with --json), so it pipes; log lines go
    to stderr, plain and unwrapped when it is not a terminal, and -q silences them; exit
    codes: 0 done, 1 the work failed, 2 a usage error."""
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout == f"popfusion {__version__}\n" and version.stderr == ""
    out = tmp_path / "smpd"
    synth = runner.invoke(app, ["data", "synth", "--posts", "300", "--out", str(out), "--no-images"])
    assert synth.exit_code == 0
    result = runner.invoke(app, ["data", "validate", str(out), "--json", "-q"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and result.stderr == ""
    assert doc["posts"] == 300 and doc["splits"] == {"train": 200, "test": 100} and doc["trainable"]
    recipe = tmp_path / "meta.yaml"
    meta = {"block": "meta", "params": {"language": False}}
    recipe.write_text(json.dumps({"name": "meta", "features": [meta]}))
    args = ["features", "build", str(recipe), "--data", str(out), "--cache", str(tmp_path / "cache"), "--json"]
    built = runner.invoke(app, args)
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["blocks"][0]["block"].startswith("Metadata")
    long_line = next(line for line in built.stderr.splitlines() if "feature block Metadata" in line)
    assert len(long_line) > 80 and " INFO " in long_line  # one unwrapped, timestamped line
    assert runner.invoke(app, [*args, "--quiet"]).stderr == ""
    assert runner.invoke(app, ["data", "validate", str(out), "--no-such-option"]).exit_code == 2
    assert runner.invoke(app, ["data", "validate", str(tmp_path / "missing.csv")]).exit_code == 1


def test_sample_goes_to_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POPFUSION_HOME", str(tmp_path))
    result = runner.invoke(app, ["data", "sample", "--posts", "200"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sample-v2-200-0" / "synth.json").is_file()


def test_bad_input_exits_with_a_message(tmp_path: Path) -> None:
    write_smpd(tmp_path, labels=["1", "2", "x", "4"])
    result = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "train_label.txt" in result.output and "row 2" in result.output


def test_csv_with_a_column_map(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("id,who,when,likes\n1,a,1704300000,3.2\n2,b,1704300600,\n")
    column_map = "post_id=id,user=who,time=when,label=likes"
    result = runner.invoke(app, ["data", "validate", str(path), "--map", column_map])
    assert result.exit_code == 0, result.output
    assert "1 train" in result.output and "1 test" in result.output


def test_evaluate_counts_what_it_does_not_score(tmp_path: Path) -> None:
    """Missing predictions are counted and left out, ids match with or without the SMP
    "post" prefix, and duplicate ids are refused instead of scored twice."""
    rng = np.random.default_rng(0)
    y = rng.normal(6, 2, 100)
    truth = pd.DataFrame({"post_id": [f"post{i}" for i in range(100)], "label": y})
    pred = pd.DataFrame({"post_id": [str(i) for i in range(100)] + ["999"],
                         "popularity_score": np.r_[y + rng.normal(0, 0.5, 100), 1.0]})
    pred.loc[:29, "popularity_score"] = np.nan
    truth.to_csv(tmp_path / "truth.csv", index=False)
    pred.to_csv(tmp_path / "pred.csv", index=False)
    result = runner.invoke(app, ["evaluate", str(tmp_path / "pred.csv"), str(tmp_path / "truth.csv"),
                                 "--bootstrap", "10", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["counts"] == {"scored": 70, "missing_predictions": 30, "predictions_without_label": 1,
                                "labels_without_prediction": 0}
    assert report["scores"]["src"]["value"] > 0.9
    pd.concat([pred, pred.tail(1)]).to_csv(tmp_path / "twice.csv", index=False)
    result = runner.invoke(app, ["evaluate", str(tmp_path / "twice.csv"), str(tmp_path / "truth.csv")])
    assert result.exit_code == 1 and "duplicate post id" in " ".join(result.output.split())  # however wrapped


@pytest.mark.parametrize(("rows", "expected"), [
    ([], "no posts"),
    ([("p{i}", "u", "2020-01-01", "") for i in range(60)], "0 labelled training posts"),
    ([("p{i}", "u", "2020-01-01", "3.0") for i in range(60)], "every label is 3.0"),
    ([("p{i}", "u", "2020-01-01", "1e308" if i == 7 else str(i % 5)) for i in range(60)], "outside"),
    ([("p{i}", "u", "2099-12-31T23:59:59Z" if i else "2150-01-01", str(i % 5)) for i in range(60)], "time"),
])
def test_validate_says_what_run_refuses_and_run_refuses_it_before_any_work(
        rows: list, expected: str, tmp_path: Path) -> None:
    csv = tmp_path / "posts.csv"
    csv.write_text("post_id,user_id,posted_at,label\n" + "".join(
        f"{p.format(i=i)},{u},{t},{y}\n" for i, (p, u, t, y) in enumerate(rows)))
    checked = runner.invoke(app, ["data", "validate", str(csv)])
    said = " ".join(checked.output.split())
    assert ("cannot train on it" in said or checked.exit_code == 1) and expected in said, said
    result = runner.invoke(app, ["run", "fast", "--data", str(csv), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and expected in " ".join(result.output.split())
    assert "Traceback" not in result.output and not (tmp_path / "run" / "checkpoints").exists()


def test_recipes_list_show_and_check(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["recipes", "list"])
    assert listed.exit_code == 0 and [line.split("\t")[0] for line in listed.stdout.splitlines()] == [
        "sample", "fast", "smp", "serve"]
    shown = runner.invoke(app, ["recipes", "show", "fast"])
    assert shown.exit_code == 0 and shown.stdout.startswith("name: fast")
    good = tmp_path / "mine.yaml"
    good.write_text(shown.stdout)
    assert "ok: recipe fast" in runner.invoke(app, ["recipes", "check", str(good)]).stdout
    good.write_text(shown.stdout.replace("model: lightgbm", "model: lightgbmm"))
    bad = runner.invoke(app, ["recipes", "check", str(good)])
    assert bad.exit_code == 1 and "did you mean 'lightgbm'" in bad.output
    assert runner.invoke(app, ["recipes", "show", "nope"]).exit_code == 2


def test_progress_rates_and_time_left_are_averages_over_the_task() -> None:
    """Two models a minute read as 2.0/min with the right time left, however close
    together the last two steps ended."""
    from rich.progress import Progress

    from popfusion.progress import EtaColumn, RateColumn

    now = [0.0]
    progress = Progress(get_time=lambda: now[0], disable=True)
    task_id = progress.add_task("models", total=10)
    for t in (30.0, 59.0, 60.0, 90.0, 119.9, 120.0):  # bursts, four steps in two minutes
        now[0] = t
        if t in (60.0, 120.0, 59.0, 119.9):
            progress.advance(task_id)
    task = progress.tasks[0]
    assert str(RateColumn().render(task)) == "2.0/min"
    assert str(EtaColumn().render(task)) == "0:03:00 left"
    fast = progress.add_task("images", total=100)
    progress.advance(fast, 25)
    now[0] += 10
    assert str(RateColumn().render(progress.tasks[1])) == "2.5/s"
    assert str(RateColumn().render(progress.tasks[0])) == "1.8/min"  # the idle task's average falls


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys) -> None:
    """An error no check foresaw ends in one line and exit 1; --debug, anywhere on the
    command line, shows the traceback instead."""
    import sys

    import popfusion.cli as cli_module

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli_module.describe_mod, "describe", broken)
    monkeypatch.setattr(sys, "argv", ["popfusion", "data", "describe", "--json"])
    with pytest.raises(SystemExit) as exit_:
        cli_module.cli()
    assert exit_.value.code == 1
    said = capsys.readouterr()
    assert "error: RuntimeError: a bug" in said.err and "Traceback" not in said.err and said.out == ""
    monkeypatch.setattr(sys, "argv", ["popfusion", "data", "describe", "--debug"])
    with pytest.raises(RuntimeError, match="a bug"):
        cli_module.cli()


def test_the_recipe_reference_in_docs_is_the_code_s_own() -> None:
    """docs/reference.md is what `popfusion recipes reference` prints: regenerate it with
    `popfusion recipes reference > docs/reference.md` when a block or model changes."""
    from popfusion.cli import reference_text

    docs = Path(__file__).resolve().parents[1] / "docs" / "reference.md"
    assert docs.read_text() == reference_text()
    for name in ("`meta`", "`knn`", "`lightgbm`", "`catboost`", "| `alpha` | `10.0` |"):
        assert name in docs.read_text()


def test_evaluate_reads_any_labels_file_and_any_prediction_column(tmp_path: Path) -> None:
    preds = tmp_path / "test_predictions.parquet"
    pd.DataFrame({"post_id": ["1", "2", "3", "4"], "lgb_all": [1.0, 2.0, 3.0, 4.0],
                  "final_drift": [4.0, 3.0, 2.0, 1.0]}).to_parquet(preds)
    labels = tmp_path / "mine.csv"
    labels.write_text("tweet_id,likes\n1,10\n2,20\n3,30\n4,\n")
    base = ["evaluate", str(preds), str(labels), "--bootstrap", "0", "--json"]
    refused = runner.invoke(app, base)
    assert refused.exit_code == 1 and "--map id=<column>,label=<column>" in " ".join(refused.output.split())
    mapped = runner.invoke(app, [*base, "--map", "id=tweet_id,label=likes", "--column", "lgb_all"])
    doc = json.loads(mapped.stdout)
    assert doc["counts"]["scored"] == 3 and doc["scores"]["src"]["value"] == pytest.approx(1.0)
    default = json.loads(runner.invoke(app, [*base, "--map", "id=tweet_id,label=likes"]).stdout)
    assert default["scores"]["src"]["value"] == pytest.approx(-1.0)  # final_drift by default
    missing = runner.invoke(app, [*base, "--map", "id=tweet_id,label=likes", "--column", "cat_all"])
    assert missing.exit_code == 1 and "no column 'cat_all'" in missing.output


def test_load_maps_a_dataframe_as_it_maps_a_file(tmp_path: Path) -> None:
    from popfusion import load

    frame = pd.DataFrame({"id": ["1", "2"], "who": ["a", "b"], "when": ["1704300000", "1704300600"],
                          "likes": ["3.2", ""]})
    path = tmp_path / "posts.csv"
    frame.to_csv(path, index=False)
    column_map = "post_id=id,user=who,time=when,label=likes"
    pd.testing.assert_frame_equal(load(frame, column_map), load(path, column_map))
    assert runner.invoke(app, ["data", "validate", "--data", str(path), "--map", column_map]).exit_code == 0
