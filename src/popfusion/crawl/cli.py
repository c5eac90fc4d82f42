"""``popfusion crawl users|images``: the command line of the crawler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from popfusion.crawl import crawl_images, crawl_users, make_source, users_manifest
from popfusion.crawl.client import CrawlSettings, FetchError, PoliteClient
from popfusion.crawl.runner import CrawlSummary
from popfusion.options import QuietOption, VerboseOption
from popfusion.progress import console, results

app = typer.Typer(help="Fetch user statistics and images: polite, resumable, fault-tolerant.",
                  no_args_is_help=True)

DataArg = Annotated[Path, typer.Argument(help="Dataset: SMPD folder or CSV/Parquet/JSONL file.")]
MapOption = Annotated[str | None, typer.Option("--map", help="Column map for CSV/Parquet/JSONL.")]
RateOption = Annotated[float, typer.Option(help="Requests per second, all threads together.")]
ConcurrencyOption = Annotated[int, typer.Option(help="Requests in flight at once.")]
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait for a response.")]
RetriesOption = Annotated[int, typer.Option(help="Retries on timeouts, dropped connections, 429 and 5xx.")]
RetryFailedOption = Annotated[bool, typer.Option("--retry-failed", help="Try the items that failed before.")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="List what would be fetched; fetch nothing.")]
BaseUrlOption = Annotated[str | None, typer.Option(help="Base URL: a mirror or a test server.")]


@app.command("users")
def users(
    data: DataArg,
    out: Annotated[Path, typer.Option(help="Output table (.parquet or .csv), keyed by pathalias.")],
    source: Annotated[str, typer.Option(help="page (public profile page) or api (Flickr REST API).")] = "page",
    key_file: Annotated[Path | None, typer.Option(
        help="File holding the Flickr API key (else $FLICKR_API_KEY or ~/.config/popfusion/flickr_api_key).")
    ] = None,
    base_url: BaseUrlOption = None,
    column_map: MapOption = None,
    rate: RateOption = 1.0,
    concurrency: ConcurrencyOption = 2,
    timeout: TimeoutOption = 30.0,
    retries: RetriesOption = 5,
    retry_failed: RetryFailedOption = False,
    dry_run: DryRunOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fetch every author's totals (views, tags, geotags, faves, group photos, photos,
    followers, following). Totals crawled now include the posts' own later views: a leak
    on a leaderboard, which is why models use them only with `crawled: true`."""
    posts = _posts(data, column_map)
    client = PoliteClient(CrawlSettings(rate, concurrency, timeout, retries))
    try:
        user_source = make_source(source, client, base_url, key_file)
    except (ValueError, FetchError) as err:
        console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(2) from None
    with _stoppable():
        summary = crawl_users(posts, out, user_source, client.settings, retry_failed, dry_run)
    _finish(summary, out, users_manifest(out), dry_run)


@app.command("images")
def images(
    data: DataArg,
    out: Annotated[Path, typer.Option(help="Folder: images go to <out>/<split>/<user>/<post>.jpg.")],
    base_url: BaseUrlOption = None,
    column_map: MapOption = None,
    rate: RateOption = 1.0,
    concurrency: ConcurrencyOption = 2,
    timeout: TimeoutOption = 30.0,
    retries: RetriesOption = 5,
    retry_failed: RetryFailedOption = False,
    dry_run: DryRunOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Download the images a dataset lists as URLs, each checked to decode. Read the
    dataset afterwards with --image-root OUT."""
    posts = _posts(data, column_map)
    client = PoliteClient(CrawlSettings(rate, concurrency, timeout, retries))
    with _stoppable():
        summary = crawl_images(posts, out, client, retry_failed, dry_run, base_url)
    _finish(summary, out, out / "manifest.jsonl", dry_run)


@contextmanager
def _stoppable() -> Iterator[None]:
    """Ctrl-C: say how to go on, exit 130 (what finished is in the manifest)."""
    try:
        yield
    except KeyboardInterrupt:
        console.print("[yellow]stopped[/]: run the same command again to continue where it stopped")
        raise typer.Exit(130) from None


def _posts(data: Path, column_map: str | None):
    from popfusion.cli import _load

    return _load(data, column_map, None)


def _finish(summary: CrawlSummary, out: Path, manifest: Path, dry_run: bool) -> None:
    if dry_run:
        for key in summary.pending:
            results.print(key, highlight=False)
        results.print(f"would fetch {len(summary.pending)}; {summary.skipped} done before, "
                      f"{summary.failed_before} failed before (add --retry-failed to include them)")
        return
    table = Table(title=f"crawl into {out}", show_header=False, title_justify="left")
    table.add_row("fetched", str(summary.fetched))
    table.add_row("skipped (done before)", str(summary.skipped))
    for reason, count in summary.failed.most_common():
        table.add_row(f"failed: {reason}", str(count))
    if summary.failed_before:
        table.add_row("failed before, not retried", str(summary.failed_before))
    results.print(table)
    if not summary.ok:
        failed = sum(summary.failed.values()) + summary.failed_before
        console.print(f"[bold red]{failed} failed[/] (reasons in {manifest}); "
                      "rerun with --retry-failed to try them again")
        raise typer.Exit(1)
