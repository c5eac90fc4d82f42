"""The ``popfusion`` command line: a thin layer over the Python API."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.logging import RichHandler
from rich.table import Table

from popfusion import __version__
from popfusion.crawl.cli import app as crawl_app
from popfusion.data import describe as describe_mod
from popfusion.data import synthetic
from popfusion.data.schema import DataError, check_trainable
from popfusion.data.table import load
from popfusion.options import JsonOption, QuietOption, VerboseOption
from popfusion.progress import console, results

log = logging.getLogger("popfusion.cli")
app = typer.Typer(help="Predict how popular a social media post will be.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
data_app = typer.Typer(help="Read, check, describe and generate datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
features_app = typer.Typer(help="Build the feature blocks a recipe asks for.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(crawl_app, name="crawl")
recipes_app = typer.Typer(help="List, show and check recipes.", no_args_is_help=True)
app.add_typer(recipes_app, name="recipes")

MapOption = Annotated[str | None, typer.Option(
    "--map", help="Column map for CSV/Parquet/JSONL, e.g. id=tweet_id,text=content,time=created_at")]
ImageRootOption = Annotated[Path | None, typer.Option(help="Folder image paths are relative to.")]
CrawledOption = Annotated[Path | None, typer.Option(
    help="Crawled user totals to join (the output of popfusion crawl users).")]
TimeFormatOption = Annotated[str | None, typer.Option(
    "--time-format", help="How to read dates whose order is ambiguous (07/02/2016): dayfirst, monthfirst, "
                          "or a format such as %d/%m/%Y.")]


def _version(value: bool) -> None:
    if value:
        results.print(f"popfusion {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more (debug lines).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Results and errors only.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error (anywhere on "
                                                        "the command line).")] = False,
) -> None:
    """Results go to stdout; log lines, progress bars, warnings and errors to stderr.
    Exit codes: 0 done, 1 the work failed (bad data, a failed fit), 2 a usage error (an
    unknown option, a missing argument, an output path that cannot be written)."""
    # on a terminal rich lines; into a file or pipe plain, timestamped and never wrapped
    handler = RichHandler(console=console, show_path=False) if console.is_terminal else logging.StreamHandler()
    if not console.is_terminal:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.getLogger("popfusion").setLevel(level)


def cli() -> None:
    """The ``popfusion`` command. An error that escapes a command (a bug, a fit that fails
    on data no check foresaw) is one line on stderr and exit 1, not a traceback; ``--debug``
    anywhere on the command line shows the traceback instead."""
    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except Exception as err:  # SystemExit (what click and typer.Exit raise) is not an Exception
        if debug:
            raise
        console.print(f"[bold red]error:[/] {type(err).__name__}: {err}\n(run the same command with --debug "
                      "for the traceback; if the error is popfusion's own, please report it)")
        sys.exit(1)


def _load(path: Path | None, column_map: str | None, image_root: Path | None,
          crawled: Path | str | None = None, time_format: str | None = None):
    """The table at ``path``, or the built-in sample when no path is given."""
    try:
        source = path if path is not None else synthetic.ensure_sample()
        with console.status(f"reading {source}"):
            return load(source, column_map, image_root, crawled=crawled, time_format=time_format)
    except DataError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None


def _recipe(name_or_path: str):
    """The recipe a preset name or YAML path gives, or a clear error and exit 1."""
    from popfusion.recipe import load_recipe

    try:
        return load_recipe(name_or_path)
    except ValueError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None


def _recipe_posts(spec, data: Path | None, column_map: str | None, image_root: Path | None,
                  crawled: Path | None, time_format: str | None):
    """The posts of a recipe's data section, each option given on the command line winning."""
    path = data or (Path(spec.data.path) if spec.data.path else None)
    return _load(path, column_map or spec.data.map, image_root or spec.data.image_root,
                 crawled or spec.data.crawled, time_format or spec.data.time_format)


@data_app.command("sample")
def data_sample(
    posts: Annotated[int, typer.Option(help="Number of posts.")] = synthetic.SAMPLE_POSTS,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Make the built-in sample (a synthetic SMPD) in the cache, if not there yet."""
    path = synthetic.ensure_sample(posts, seed)
    results.print(f"built-in sample: [bold]{path}[/]")


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    posts: Annotated[int, typer.Option(help="Number of posts (SMPD: 486194).")] = synthetic.SAMPLE_POSTS,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    images: Annotated[bool, typer.Option(help="Write JPEG images.")] = True,
    image_size: Annotated[int, typer.Option(help="Image side in pixels.")] = 64,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a calibrated synthetic SMPD folder in the official file format."""
    spec = synthetic.SynthSpec(posts=posts, seed=seed, images=images, image_size=image_size)
    try:
        path = synthetic.generate(out, spec)
    except FileExistsError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    results.print(f"synthetic SMPD with {posts} posts: [bold]{path}[/] "
                  f"(noise-free scores in {synthetic.TRUTH})")


DataArgument = Annotated[Path | None, typer.Argument(help="SMPD folder or CSV/Parquet/JSONL file (or --data).",
                                                     show_default=False)]
DataOption = Annotated[Path | None, typer.Option("--data", help="The dataset, as on run and predict.")]


def _data_path(path: Path | None, data: Path | None) -> Path | None:
    """The dataset given by position or by --data (the same name as on run and predict)."""
    if path is not None and data is not None and path != data:
        raise typer.BadParameter(f"two datasets given ({path} and --data {data}); give one")
    return path or data


@data_app.command("validate")
def data_validate(
    path: DataArgument = None,
    data: DataOption = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    crawled: CrawledOption = None,
    time_format: TimeFormatOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Read a dataset and check it against the canonical schema."""
    path = _data_path(path, data)
    if path is None:
        raise typer.BadParameter("give the dataset to check (a path or --data)")
    table = _load(path, column_map, image_root, crawled, time_format)
    splits = {str(k): int(v) for k, v in table["split"].value_counts().items()}
    try:
        check_trainable(table, str(path))
        problem = None
    except DataError as err:
        problem = str(err)
    if as_json:
        _print_json({"posts": len(table), "splits": splits, "columns": list(table.columns), "skipped": 0,
                     "trainable": problem is None, "problem": problem})
        return
    results.print(f"[green]ok[/]: {len(table)} posts ({', '.join(f'{v} {k}' for k, v in splits.items())}), "
                  f"{table.shape[1]} columns, nothing skipped")
    if problem is None:
        results.print("popfusion run can train on it")
    else:
        results.print(f"[bold yellow]popfusion run cannot train on it[/] (predict can score it): {problem}")


@data_app.command("describe")
def data_describe(
    path: Annotated[Path | None, typer.Argument(help="Dataset (or --data); default: the built-in sample.",
                                                show_default=False)] = None,
    data: DataOption = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    crawled: CrawledOption = None,
    time_format: TimeFormatOption = None,
    plot: Annotated[Path | None, typer.Option(
        help="Write the label plot (PNG) here; with --adversarial, also what tells test from training "
             "posts and how test-like each month's training posts are.")] = None,
    adversarial: Annotated[str | None, typer.Option(
        help="Also tell test from training posts on this recipe's label-free features (a preset or YAML): "
             "how different they are, where, and which training posts are most like the test ones.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Feature cache folder for --adversarial (default: the "
                                                    "recipe's, else <popfusion cache>/features).")] = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Row counts, missing values, labels, posts per user, time span, drift, crawl lag;
    with --adversarial, how different the posts to predict are from the training posts."""
    table = _load(_data_path(path, data), column_map, image_root, crawled, time_format)
    summary = describe_mod.describe(table)
    found = None
    if adversarial is not None:
        from popfusion.adversarial import adversarial as tell_apart

        spec = _recipe(adversarial)
        try:
            found = tell_apart(table, spec, cache or Path(spec.cache_dir or synthetic.cache_dir() / "features"))
        except (ValueError, DataError) as err:
            console.print(f"[bold red]error:[/] {err}")
            raise typer.Exit(1) from None
        summary["adversarial"] = found.summary()
        summary["warnings"] = [*summary.get("warnings", []), *_external_risks(spec)]
    if as_json:
        _print_json(summary)
    else:
        _print_summary(summary)
    if plot is not None:
        results.print(f"plot: [bold]{describe_mod.plot(table, plot, found)}[/]")


def _print_summary(summary: dict) -> None:
    results.print(f"[bold]{summary['rows']} posts[/] {summary.get('rows_by_split', '')}")
    for title in ("label", "posts_per_user", "time_span", "crawled"):
        if title in summary:
            results.print(_kv_table(title.replace("_", " "), summary[title]))
    missing = {k: v for k, v in summary["missing"].items() if v > 0}
    results.print(_kv_table("missing values (share of rows)", missing or {"none": 0}))
    if "label_by_month" in summary:
        results.print(_kv_table("mean label by month", summary["label_by_month"]))
        results.print(f"mean label by time decile: {summary['label_by_time_decile']}")
    if summary.get("columns"):
        table = Table(title="the platform's own columns (features of the columns block)", title_justify="left")
        for col in ("column", "kind", "missing", "distinct", "SRC with label"):
            table.add_column(col, no_wrap=True)
        for c in summary["columns"]:
            src = "" if c["label_src"] is None else f"{c['label_src']:+.3f}" + (" LEAK?" if c["leak"] else "")
            table.add_row(c["column"], c["kind"], f"{c['missing']:.2%}", str(c["distinct"]), src)
        results.print(table)
    if "adversarial" in summary:
        _print_adversarial(summary["adversarial"])
    for warning in summary.get("warnings", []):
        console.print(f"[bold yellow]warning:[/] {warning}")


def _external_risks(spec) -> list[str]:
    """The leak risk of each external feature file a recipe joins (features.external)."""
    from popfusion.features.pipeline import make_block

    return [make_block(b.block, b.params).leak_risk() for b in spec.features if b.block == "external"]


def _print_adversarial(found: dict) -> None:
    results.print(f"[bold]test vs training posts[/]: AUC {found['auc']:.3f} out of fold on {found['features']} "
                  f"label-free features, posting time left out: {found['verdict']}")
    table = Table(title="what tells them apart (share of the classifier's gain)", title_justify="left")
    for col in ("feature", "family", "share"):
        table.add_column(col)
    for f in found["top_features"]:
        table.add_row(f["feature"], f["family"], f"{f['gain_share']:.1%}")
    results.print(table)
    likest = ", ".join(f"{p['post_id']} ({p['p_test']:.2f})" for p in found["most_test_like"][:5])
    results.print(f"training posts taken for test posts (p > 0.5): {found['train_posts_like_test']:.1%}; "
                  f"most like them: {likest}")


def _kv_table(title: str, values: dict) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    for key, value in values.items():
        table.add_row(str(key), str(value))
    return table


@recipes_app.command("list")
def recipes_list(verbose: VerboseOption = False, quiet: QuietOption = False) -> None:
    """The presets that ship with popfusion, one line each."""
    from popfusion.recipe import PRESETS, load_recipe

    for name in PRESETS:
        print(f"{name}\t{load_recipe(name).description}")


@recipes_app.command("show")
def recipes_show(name: Annotated[str, typer.Argument(help="A preset name.")],
                 verbose: VerboseOption = False, quiet: QuietOption = False) -> None:
    """A preset's YAML, to copy and edit."""
    from importlib import resources

    from popfusion.recipe import PRESETS

    if name not in PRESETS:
        console.print(f"[bold red]error:[/] no preset {name!r}; presets: {', '.join(PRESETS)}")
        raise typer.Exit(2)
    print(resources.files("popfusion.recipes").joinpath(f"{name}.yaml").read_text(), end="")


@recipes_app.command("reference")
def recipes_reference(verbose: VerboseOption = False, quiet: QuietOption = False) -> None:
    """Every feature block and model a recipe can name, with its parameters and defaults,
    as Markdown (docs/reference.md is this output)."""
    print(reference_text(), end="")


def reference_text() -> str:
    from popfusion.features.pipeline import BLOCKS
    from popfusion.models.zoo import MODELS
    from popfusion.registry import reference
    from popfusion.training.ensemble import GROUPS

    groups = "\n".join(f"| `{g}` | {', '.join(f'`{p}*`' for p in prefixes)} |"
                       for g, prefixes in GROUPS.items())
    blocks = reference(BLOCKS, "Feature blocks (features: [{block: NAME, params: {...}}])")
    models = reference(MODELS, "Models (models: [{name: ..., model: NAME, features: [...], params: {...}}])")
    return (f"# Recipe reference\n\nGenerated by `popfusion recipes reference` from the code's signatures and "
            f"docstrings.\n\n{blocks}\n{models}\n"
            f"## Feature groups (a model's `features`)\n\n| group | columns |\n|---|---|\n{groups}\n")


@recipes_app.command("check")
def recipes_check(path: Annotated[str, typer.Argument(help="A recipe YAML file (or a preset name).")],
                  verbose: VerboseOption = False, quiet: QuietOption = False) -> None:
    """Check a recipe without reading any data: every block, model, feature group and
    parameter must exist."""
    spec = _recipe(path)
    print(f"ok: recipe {spec.name}: {len(spec.features)} feature blocks, {len(spec.models)} models")


@features_app.command("build")
def features_build(
    recipe: Annotated[str, typer.Argument(help="Preset (sample, fast, smp) or recipe YAML.")] = "sample",
    data: Annotated[Path | None, typer.Option(help="Dataset; default: the recipe's, else the sample.")] = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    crawled: CrawledOption = None,
    time_format: TimeFormatOption = None,
    cache: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Build (or reuse from the cache) every feature block of a recipe."""
    from popfusion.features.pipeline import applicable, build_features, make_block

    spec = _recipe(recipe)
    try:
        blocks = [make_block(b.block, b.params) for b in spec.features]
    except ValueError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    posts = _recipe_posts(spec, data, column_map, image_root, crawled, time_format)
    cache_dir = cache or Path(spec.cache_dir or synthetic.cache_dir() / "features")
    blocks = applicable(posts, blocks)
    frame, built = build_features(posts, blocks, cache_dir)
    if as_json:
        _print_json({"posts": len(posts), "columns": frame.shape[1], "cache": str(cache_dir), "blocks": [
            {"block": str(b), **vars(r), "missing_images": getattr(b, "missing_", None)}
            for b, r in zip(blocks, built, strict=True)]})
        return
    table = Table(title=f"features for {len(posts)} posts ({frame.shape[1]} columns, cache {cache_dir})")
    for col in ("block", "columns", "seconds", "cache", "missing images"):
        table.add_column(col)
    for block, r in zip(blocks, built, strict=True):
        missing = getattr(block, "missing_", None)
        table.add_row(str(block), str(r.columns), f"{r.seconds:.1f}", "hit" if r.cached else "built",
                      "" if missing is None else str(missing))
    results.print(table)


@app.command("run")
def run(
    recipe: Annotated[str, typer.Argument(help="Preset (sample, fast, smp) or recipe YAML.")] = "sample",
    data: Annotated[Path | None, typer.Option(help="Dataset; default: the recipe's, else the sample.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder; default: runs/<recipe name>.")] = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    crawled: CrawledOption = None,
    time_format: TimeFormatOption = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the recipe's).")] = None,
    time_limit: Annotated[float | None, typer.Option(
        help="Seconds for training: models that would start later are left out, and named.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Feature cache folder (default: the recipe's, "
                                                    "else <popfusion cache>/features).")] = None,
    ray: Annotated[str | None, typer.Option(
        help="Run embeddings and model fits on Ray: auto (a local cluster of this machine's cores) or "
             "a cluster's address (needs the ray extra).")] = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Build features, train the ensemble, fuse, predict, and write a run folder.
    Rerunning into the same folder resumes from finished features and models."""
    from popfusion.api import PopFusion
    from popfusion.compute import ComputeError
    from popfusion.runs import RunFolderError, check_out, write_run

    spec = _recipe(recipe)
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    if ray is not None:
        spec = spec.model_copy(update={"compute": spec.compute.model_copy(update={"ray": ray})})
    if column_map:  # kept with the run, so that `popfusion serve` reads posts in the same columns
        spec = spec.model_copy(update={"data": spec.data.model_copy(update={"map": column_map})})
    run_dir = out or Path("runs") / spec.name
    try:
        check_out(run_dir)
    except RunFolderError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(2) from None
    posts = _recipe_posts(spec, data, column_map, image_root, crawled, time_format)
    try:
        check_trainable(posts, str(data or spec.data.path or "the built-in sample"))
    except DataError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    try:
        model = PopFusion(spec, cache_dir=cache, checkpoints=run_dir / "checkpoints").fit(posts, time_limit)
    except (ComputeError, DataError) as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    try:
        write_run(model, run_dir, str(data or spec.data.path or "the built-in sample"))
    except RunFolderError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    if as_json:
        from popfusion.runs import run_metrics

        _print_json({"run_folder": str(run_dir), **run_metrics(model)})
        return
    table = Table(title=f"hold-out scores (latest {spec.validation.holdout:.0%} of training time)")
    for col in ("model / tier", "SRC", "MAE"):
        table.add_column(col)
    for name, m in model.validation_.scores.items():
        table.add_row(name, f"{m['src']['value']:.4f}", f"{m['mae']['value']:.4f}")
    results.print(table)
    results.print(f"run folder: [bold]{run_dir}[/] (report.html, submission.json, metrics.json)")


@app.command("predict")
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by popfusion run.")],
    data: Annotated[Path, typer.Option(help="Posts to score.")],
    out: Annotated[Path | None, typer.Option(help="Output (.parquet, .csv or .json submission).")] = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    crawled: CrawledOption = None,
    time_format: TimeFormatOption = None,
    allow_train: Annotated[bool, typer.Option(
        "--allow-train", help="Also score posts the run was trained on (their scores are in-sample).")] = False,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Score new posts with a saved run. Posts the run was trained on are refused unless
    --allow-train: their scores would look like predictions and are not."""
    from popfusion.submission import write_submission

    out = out or run_dir / "predictions.parquet"
    if out.suffix not in (".json", ".csv", ".parquet"):
        console.print(f"[bold red]error:[/] --out {out}: give a .parquet, .csv or .json (submission) file")
        raise typer.Exit(2)
    model = _run(run_dir)
    posts = _load(data, column_map, image_root, crawled, time_format)
    counts = model.screen(posts)
    if counts["in_training"] and not allow_train:
        console.print(f"[bold red]error:[/] {data}: {counts['in_training']} of {counts['posts']} posts were in "
                      "the run's training data, so their scores would be in-sample, not predictions; remove "
                      "them, or give --allow-train to score them anyway")
        raise typer.Exit(1)
    scores = model.predict(posts)
    if out.suffix == ".json":
        write_submission(out, posts["post_id"], scores)
    else:
        frame = pd.DataFrame({"post_id": posts["post_id"].to_numpy(), "popularity_score": scores.to_numpy()})
        frame.to_csv(out, index=False) if out.suffix == ".csv" else frame.to_parquet(out, index=False)
    if as_json:
        _print_json({"scored": len(scores), "out": str(out), **counts})
        return
    missing = ", ".join(f"{n} without {k.removeprefix('missing_')}" for k, n in counts.items()
                        if k.startswith("missing_") and n)
    results.print(f"{len(scores)} posts scored: [bold]{out}[/] ({counts['in_training']} were in training, "
                  f"{counts['unknown_users']} from users training never saw"
                  f"{'; ' + missing if missing else ''})")


def _run(run_dir: Path):
    """The fitted model of a run folder, or a clear error and exit 1."""
    from popfusion.runs import load_run

    try:
        return load_run(run_dir)
    except (OSError, TypeError, ValueError) as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None


def _table_out(out: Path) -> Path:
    if out.suffix not in (".csv", ".parquet"):
        console.print(f"[bold red]error:[/] --out {out}: give a .parquet or .csv file")
        raise typer.Exit(2)
    return out


def _write_table(frame: pd.DataFrame, out: Path) -> None:
    frame.to_csv(out, index=False) if out.suffix == ".csv" else frame.to_parquet(out, index=False)


@app.command("explain")
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by popfusion run.")],
    data: Annotated[Path, typer.Option(help="Posts to explain.")],
    out: Annotated[Path | None, typer.Option(help="Contributions table (.parquet or .csv): a row per post, "
                                                  "base, score and a column per feature.")] = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    time_format: TimeFormatOption = None,
    top: Annotated[int, typer.Option(help="Features to print per post.")] = 5,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Why each post gets its score: every feature's contribution to it (base value plus
    contributions equals the score), written to --out; the families and the largest
    features printed."""
    from popfusion.names import human

    out = _table_out(out or run_dir / "explanations.parquet")
    model = _run(run_dir)
    posts = _load(data, column_map, image_root, None, time_format)
    e = model.explain(posts)
    families = e.by_family()
    _write_table(pd.concat([posts[["post_id"]], e.base, e.score, e.contributions], axis=1), out)
    if as_json:
        _print_json({"out": str(out), "posts": [
            {"post_id": str(p), "base": e.base.iloc[i], "score": e.score.iloc[i],
             "families": families.iloc[i].to_dict(), "top": e.top(i, top).to_dict()}
            for i, p in enumerate(posts["post_id"])]})
        return
    for i, post_id in enumerate(posts["post_id"][:20]):
        parts = ", ".join(f"{k} {v:+.3f}" for k, v in families.iloc[i].items())
        best = "; ".join(f"{human(k)} {v:+.3f}" for k, v in e.top(i, top).items())
        results.print(f"{post_id}: {e.score.iloc[i]:.3f} = base {e.base.iloc[i]:.3f} + {parts}", soft_wrap=True)
        results.print(f"  largest: {best}", soft_wrap=True)
    results.print(f"{len(posts)} posts explained: [bold]{out}[/]")


@app.command("advise")
def advise(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by popfusion run.")],
    data: Annotated[Path, typer.Option(help="Draft posts, each with its planned time.")],
    out: Annotated[Path | None, typer.Option(help="Every hour's expected score per draft (.parquet or "
                                                  ".csv).")] = None,
    hours: Annotated[int, typer.Option(help="Hours ahead to score, from each draft's own time.")] = 168,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    time_format: TimeFormatOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """When each draft should go out: its expected score at every hour of the coming
    week (in the author's time zone where the data gives one) and the best hours, with
    their gain over the draft's own time."""
    out = _table_out(out or run_dir / "advice.parquet")
    model = _run(run_dir)
    posts = _load(data, column_map, image_root, None, time_format)
    advice = [model.advise(posts.iloc[[i]], hours) for i in range(len(posts))]
    curves = pd.concat([a.curve.assign(post_id=a.post_id, local_time=a.curve["local_time"].astype(str))
                        for a in advice])
    _write_table(curves[["post_id", "posted_at", "local_time", "score", "gain"]], out)
    if as_json:
        _print_json({"out": str(out), "advice": [a.summary() for a in advice]})
        return
    for a in advice:
        best = ", ".join(f"{r.local_time:%a %Y-%m-%d %H:00} ({r.gain:+.3f})" for r in a.best().itertuples())
        results.print(f"{a.post_id}: {a.own_score:.3f} at its own time; best ({a.timezone}): {best}",
                      soft_wrap=True)
    results.print(f"{len(advice)} drafts advised: [bold]{out}[/]")


@app.command("serve")
def serve(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by popfusion run (a run without "
                                                 "look-ahead, e.g. of the serve preset).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the run).")] = 1,
    column_map: MapOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Serve the run over HTTP: POST /predict, /explain and /advise, GET /health and
    /model, OpenAPI docs at /docs and a page to score a draft at /."""
    import os

    import uvicorn

    from popfusion.service import ServiceError, create_app

    model = _run(run_dir)
    try:
        app_ = create_app(model=model, column_map=column_map)
    except ServiceError as err:
        console.print(f"[bold red]error:[/] {run_dir}: {err}")
        raise typer.Exit(1) from None
    console.print(f"serving {run_dir} on http://{host}:{port} (docs at /docs)")
    if workers == 1:
        uvicorn.run(app_, host=host, port=port, log_level="warning")
        return
    os.environ["POPFUSION_RUN"], os.environ["POPFUSION_MAP"] = str(run_dir), column_map or ""
    uvicorn.run("popfusion.service:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


@app.command("evaluate")
def evaluate(
    pred: Annotated[Path, typer.Argument(help="Predictions: submission JSON, or CSV/Parquet with post_id "
                                              "and popularity_score (or prediction).")],
    truth: Annotated[Path, typer.Argument(help="Labels: CSV/Parquet with post_id and label, or a dataset.")],
    column_map: Annotated[str | None, typer.Option(
        "--map", help="Which columns of the labels file are the post id and the label, e.g. "
                      "id=tweet_id,label=likes")] = None,
    column: Annotated[str | None, typer.Option(
        help="The prediction file's column to score, e.g. lgb_all in a run's test_predictions.parquet "
             "(default: popularity_score, final_drift or prediction)")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 200,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """SRC, MAE, Pearson and RMSE of a prediction file against true labels. Post ids match
    with or without SMP's "post" prefix; duplicate ids are refused; missing predictions
    and ids on one side only are counted, never scored silently."""
    from popfusion import metrics

    try:
        preds, labels = _read_predictions(pred, column), _read_labels(truth, column_map)
    except DataError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    for frame, path in ((preds, pred), (labels, truth)):
        duplicated = frame["post_id"][frame["post_id"].duplicated()]
        if len(duplicated):
            console.print(f"[bold red]error:[/] {path}: {len(duplicated)} duplicate post id(s), e.g. "
                          f"{duplicated.iloc[0]!r}; each post must appear once")
            raise typer.Exit(1)
    joined = preds.merge(labels, on="post_id", how="inner")
    missing = joined["popularity_score"].isna()
    counts = {"scored": int((~missing).sum()), "missing_predictions": int(missing.sum()),
              "predictions_without_label": len(preds) - len(joined),
              "labels_without_prediction": len(labels) - len(joined)}
    joined = joined[~missing]
    if joined.empty:
        console.print(f"[bold red]error:[/] no post has both a prediction and a label ({counts})")
        raise typer.Exit(1)
    scores = metrics.bootstrap(joined["label"], joined["popularity_score"], n=bootstrap)
    if as_json:
        _print_json({"counts": counts, "scores": scores})
        return
    results.print(f"{counts['scored']} posts scored; {counts['missing_predictions']} matched predictions are "
                  f"missing (not scored); {counts['predictions_without_label']} predictions without a label; "
                  f"{counts['labels_without_prediction']} labels without a prediction")
    table = Table()
    for col in ("metric", "value", "95% interval"):
        table.add_column(col)
    for name, s in scores.items():
        table.add_row(name, f"{s['value']:.4f}", f"[{s['low']:.4f}, {s['high']:.4f}]")
    results.print(table)


def _print_json(doc: dict) -> None:
    """``doc`` on stdout as JSON, without rich's markup or wrapping."""
    print(json.dumps(doc, indent=2, default=_plain))


def _plain(value):
    """JSON for what ``json`` cannot write itself: numpy numbers, paths."""
    return value.item() if hasattr(value, "item") else str(value)


PREDICTION_COLUMNS = ("popularity_score", "final_drift", "prediction")


def _read_predictions(path: Path, column: str | None = None) -> pd.DataFrame:
    """post_id and popularity_score from a submission or a table of predictions."""
    from popfusion.submission import read_submission

    if path.suffix == ".json":
        if column is not None:
            raise DataError("--column reads a CSV or Parquet file of predictions, not a submission",
                            source=str(path))
        return read_submission(path)
    frame = _read_table(path)
    choice = column or next((c for c in PREDICTION_COLUMNS if c in frame), None)
    if choice is None or choice not in frame:
        raise DataError(f"{'no column ' + repr(column) if column else 'no prediction column'}; the file has "
                        f"{', '.join(map(str, frame.columns))}: name one with --column", source=str(path))
    ids = "post_id" if "post_id" in frame else "pid" if "pid" in frame else None
    if ids is None:
        raise DataError(f"no post_id column; the file has {', '.join(map(str, frame.columns))}",
                        source=str(path))
    preds = frame[[ids, choice]].set_axis(["post_id", "popularity_score"], axis=1)
    return _plain_ids(preds.assign(popularity_score=_numbers(preds["popularity_score"], path, choice)))


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise DataError(f"cannot read it: {err}", source=str(path)) from None


def _plain_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Post ids as strings without SMP's "post" prefix, so either form matches the other."""
    return frame.assign(post_id=frame["post_id"].astype(str).str.removeprefix("post"))


def _read_labels(path: Path, column_map: str | None = None) -> pd.DataFrame:
    """post_id and label from a labels table (``column_map`` names their columns) or a
    dataset folder."""
    from popfusion.data.table import parse_column_map

    if path.is_dir():
        table = _load(path, None, None)
        return _plain_ids(table.loc[table["label"].notna(), ["post_id", "label"]])
    frame = _read_table(path)
    ids = "pid" if "pid" in frame and "post_id" not in frame else "post_id"
    mapping = {"post_id": ids, "label": "label", **parse_column_map(column_map)}
    absent = [f"{mapping[k]} ({k})" for k in ("post_id", "label") if mapping[k] not in frame]
    if absent:
        raise DataError(f"no column {', '.join(absent)}; the file has {', '.join(map(str, frame.columns))}: "
                        "name them with --map, e.g. --map id=<column>,label=<column>", source=str(path))
    labels = frame[[mapping["post_id"], mapping["label"]]].set_axis(["post_id", "label"], axis=1)
    values = _numbers(labels["label"], path, mapping["label"])
    if values.isna().any():
        log.info("%s: %d rows without a label are not scored", path, values.isna().sum())
    return _plain_ids(labels.assign(label=values)[values.notna()])


def _numbers(column: pd.Series, path: Path, field: str) -> pd.Series:
    """A column read as text, as numbers: empty cells missing, anything else that is not a
    number an error naming its row."""
    written = column.astype("string").str.strip().fillna("")
    values = pd.to_numeric(written.where(written != ""), errors="coerce")
    bad = np.flatnonzero(values.isna() & (written != ""))
    if len(bad):
        raise DataError(f"{written.iloc[bad[0]]!r} is not a number ({len(bad)} such rows)", source=str(path),
                        row=int(bad[0]), field=field)
    return values
