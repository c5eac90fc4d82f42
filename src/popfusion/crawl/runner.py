"""Runs a crawl: the items not yet done, fetched on a few threads, each outcome written to
the manifest the moment it is known, with a progress bar and a summary at the end."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from popfusion.crawl.client import FetchError
from popfusion.crawl.manifest import Manifest
from popfusion.progress import progress_bar

log = logging.getLogger(__name__)


@dataclass
class CrawlSummary:
    """What a crawl did: fetched now, skipped (done before), failed now by reason, and
    failed before but not retried (without ``--retry-failed``)."""

    fetched: int = 0
    skipped: int = 0
    failed: Counter = field(default_factory=Counter)
    failed_before: int = 0
    pending: list[str] = field(default_factory=list)  # what a run would fetch (dry run)

    @property
    def ok(self) -> bool:
        """Every item is fetched."""
        return not self.failed and not self.failed_before


def plan(keys: Sequence[str], manifest: Manifest, retry_failed: bool,
         redo: set[str] = frozenset()) -> tuple[list[str], CrawlSummary]:
    """Keys to fetch now, and a summary counting those skipped: done before, or failed
    before (a failure is retried only when asked). ``redo``: keys done whose result has
    gone since (a deleted file)."""
    todo, summary = [], CrawlSummary()
    for key in dict.fromkeys(keys):
        status = "pending" if key in redo else manifest.status(key)
        if status == "done":
            summary.skipped += 1
        elif status == "failed" and not retry_failed:
            summary.failed_before += 1
        else:
            todo.append(key)
    return todo, summary


def run(keys: Sequence[str], fetch: Callable[[str], dict], manifest: Manifest, concurrency: int,
        retry_failed: bool = False, dry_run: bool = False, label: str = "crawl",
        redo: set[str] = frozenset()) -> CrawlSummary:
    """``fetch`` every key that is not done; ``fetch`` returns the item's result (stored
    in the manifest) or raises ``FetchError``. On Ctrl-C the threads finish the requests
    in flight, their outcomes are recorded, and KeyboardInterrupt goes on up."""
    todo, summary = plan(keys, manifest, retry_failed, redo)
    if dry_run:
        summary.pending = todo
        return summary
    log.info("%s: %d to fetch, %d done before, %d failed before", label, len(todo), summary.skipped,
             summary.failed_before)
    with progress_bar(bool(todo)) as bar, ThreadPoolExecutor(max(1, concurrency)) as pool:
        task = bar.add_task(label, total=len(todo))
        queue, running = iter(todo), {}
        try:
            _fill(pool, fetch, queue, running, concurrency)
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    _record(future, running.pop(future), manifest, summary)
                    bar.advance(task)
                _fill(pool, fetch, queue, running, concurrency)
        except KeyboardInterrupt:
            log.warning("interrupted: finishing %d requests in flight; rerun to continue", len(running))
            for future, key in running.items():
                if not future.cancel():
                    _record(future, key, manifest, summary)
            raise
    return summary


def _fill(pool: ThreadPoolExecutor, fetch: Callable[[str], dict], queue, running: dict,
          concurrency: int) -> None:
    """Keep at most ``concurrency`` items in flight (so a stop leaves little running)."""
    while len(running) < max(1, concurrency):
        key = next(queue, None)
        if key is None:
            return
        running[pool.submit(fetch, key)] = key


def _record(future: Future, key: str, manifest: Manifest, summary: CrawlSummary) -> None:
    try:
        result = future.result()
    except FetchError as err:
        manifest.failed(key, err.reason)
        summary.failed[err.reason] += 1
        log.debug("%s failed: %s", key, err)
    else:
        manifest.done(key, result)
        summary.fetched += 1
