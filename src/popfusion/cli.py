"""The ``popfusion`` command line: a thin layer over the Python API."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.table import Table

from popfusion import __version__
from popfusion.data import describe as describe_mod
from popfusion.data import synthetic
from popfusion.data.schema import DataError
from popfusion.data.table import load
from popfusion.progress import console

app = typer.Typer(help="Predict how popular a social media post will be.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
data_app = typer.Typer(help="Read, check, describe and generate datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
features_app = typer.Typer(help="Build the feature blocks a recipe asks for.", no_args_is_help=True)
app.add_typer(features_app, name="features")

MapOption = Annotated[str | None, typer.Option(
    "--map", help="Column map for CSV/Parquet/JSONL, e.g. id=tweet_id,text=content,time=created_at")]
ImageRootOption = Annotated[Path | None, typer.Option(help="Folder image paths are relative to.")]


def _version(value: bool) -> None:
    if value:
        console.print(f"popfusion {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    logging.getLogger("popfusion").setLevel(logging.DEBUG if verbose else logging.INFO)


def _load(path: Path | None, column_map: str | None, image_root: Path | None):
    """The table at ``path``, or the built-in sample when no path is given."""
    try:
        source = path if path is not None else synthetic.ensure_sample()
        with console.status(f"reading {source}"):
            return load(source, column_map, image_root)
    except DataError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None


@data_app.command("sample")
def data_sample(
    posts: Annotated[int, typer.Option(help="Number of posts.")] = synthetic.SAMPLE_POSTS,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Make the built-in sample (a synthetic SMPD) in the cache, if not there yet."""
    path = synthetic.ensure_sample(posts, seed)
    console.print(f"built-in sample: [bold]{path}[/]")


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    posts: Annotated[int, typer.Option(help="Number of posts (SMPD: 486194).")] = synthetic.SAMPLE_POSTS,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    images: Annotated[bool, typer.Option(help="Write JPEG images.")] = True,
    image_size: Annotated[int, typer.Option(help="Image side in pixels.")] = 64,
) -> None:
    """Write a calibrated synthetic SMPD folder in the official file format."""
    spec = synthetic.SynthSpec(posts=posts, seed=seed, images=images, image_size=image_size)
    try:
        path = synthetic.generate(out, spec)
    except FileExistsError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    console.print(f"synthetic SMPD with {posts} posts: [bold]{path}[/] "
                  f"(noise-free scores in {synthetic.TRUTH})")


@data_app.command("validate")
def data_validate(
    path: Annotated[Path, typer.Argument(help="SMPD folder or CSV/Parquet/JSONL file.")],
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
) -> None:
    """Read a dataset and check it against the canonical schema."""
    table = _load(path, column_map, image_root)
    splits = table["split"].value_counts().to_dict()
    console.print(f"[green]ok[/]: {len(table)} posts ({', '.join(f'{v} {k}' for k, v in splits.items())}), "
                  f"{table.shape[1]} columns, nothing skipped")


@data_app.command("describe")
def data_describe(
    path: Annotated[Path | None, typer.Argument(help="Dataset; default: the built-in sample.")] = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write the label plot (PNG) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Row counts, missing values, labels, posts per user, time span and drift."""
    table = _load(path, column_map, image_root)
    summary = describe_mod.describe(table)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    if plot is not None:
        console.print(f"plot: [bold]{describe_mod.plot(table, plot)}[/]")


def _print_summary(summary: dict) -> None:
    console.print(f"[bold]{summary['rows']} posts[/] {summary.get('rows_by_split', '')}")
    for title in ("label", "posts_per_user", "time_span"):
        if title in summary:
            console.print(_kv_table(title.replace("_", " "), summary[title]))
    missing = {k: v for k, v in summary["missing"].items() if v > 0}
    console.print(_kv_table("missing values (share of rows)", missing or {"none": 0}))
    if "label_by_month" in summary:
        console.print(_kv_table("mean label by month", summary["label_by_month"]))
        console.print(f"mean label by time decile: {summary['label_by_time_decile']}")


def _kv_table(title: str, values: dict) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    for key, value in values.items():
        table.add_row(str(key), str(value))
    return table


@features_app.command("build")
def features_build(
    recipe: Annotated[str, typer.Argument(help="Preset (sample, fast, smp) or recipe YAML.")] = "sample",
    data: Annotated[Path | None, typer.Option(help="Dataset; default: the recipe's, else the sample.")] = None,
    column_map: MapOption = None,
    image_root: ImageRootOption = None,
    cache: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
) -> None:
    """Build (or reuse from the cache) every feature block of a recipe."""
    from popfusion.features.pipeline import build_features, make_block
    from popfusion.recipe import load_recipe

    try:
        spec = load_recipe(recipe)
        blocks = [make_block(b.block, b.params) for b in spec.features]
    except ValueError as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None
    path = data or (Path(spec.data.path) if spec.data.path else None)
    posts = _load(path, column_map or spec.data.map, image_root or spec.data.image_root)
    cache_dir = cache or Path(spec.cache_dir or synthetic.cache_dir() / "features")
    frame, results = build_features(posts, blocks, cache_dir)
    table = Table(title=f"features for {len(posts)} posts ({frame.shape[1]} columns, cache {cache_dir})")
    for col in ("block", "columns", "seconds", "cache", "missing images"):
        table.add_column(col)
    for block, r in zip(blocks, results, strict=True):
        missing = getattr(block, "missing_", None)
        table.add_row(str(block), str(r.columns), f"{r.seconds:.1f}", "hit" if r.cached else "built",
                      "" if missing is None else str(missing))
    console.print(table)
