"""Progress bars and console output shared by every long-running step: results on
stdout (``results``), everything else on stderr (``console``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

console = Console(stderr=True)  # logs, progress, warnings and errors
results = Console(soft_wrap=True)  # results: what a command answers, on stdout, so that it can be piped


def rate(task: Task) -> float | None:
    """Items a second over the task's whole life: rich's own estimate looks at the last 30
    seconds only, so two steps that end close together (a model fitted, the next reused
    from its checkpoint) read as a rate the task never had."""
    elapsed = task.finished_time if task.finished else task.elapsed
    return task.completed / elapsed if elapsed and task.completed else None


class RateColumn(ProgressColumn):
    """Items per second (or per minute, when slower than one a second)."""

    def render(self, task: Task) -> Text:
        speed = rate(task)
        if not speed:
            return Text("", style="progress.data.speed")
        label = f"{speed:,.1f}/s" if speed >= 1 else f"{speed * 60:,.1f}/min"
        return Text(label, style="progress.data.speed")


class EtaColumn(ProgressColumn):
    """Time left at the task's average rate so far."""

    def render(self, task: Task) -> Text:
        speed = rate(task)
        if task.finished or not speed or task.total is None:
            return Text("", style="progress.remaining")
        left = int((task.total - task.completed) / speed)
        return Text(f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left", style="progress.remaining")


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    """A rich progress bar on stderr; disabled, it keeps its interface and draws nothing.
    It shows only while popfusion logs at INFO (not with ``--quiet``)."""
    enabled = enabled and logging.getLogger("popfusion").isEnabledFor(logging.INFO)
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(), RateColumn(), TimeElapsedColumn(), EtaColumn(),
        console=console, disable=not enabled, transient=False,
    )
    with bar:
        yield bar


_STEPS: Callable[[int, int], None] | None = None  # hears the fit under way: (steps done, steps at most)


def step(done: int, total: int) -> None:
    """Called by a model's fit after each of its steps (boosting round, epoch); nothing
    happens unless a caller listens (``fit_steps``)."""
    if _STEPS is not None:
        _STEPS(done, total)


@contextlib.contextmanager
def fit_steps(bar: Progress, label: str) -> Iterator[None]:
    """Inside the block, the fit under way advances a line of its own on ``bar`` (rounds
    or epochs, at most the fit's budget: early stopping ends it sooner); the line goes
    when the fit ends."""
    global _STEPS
    task = bar.add_task(label, total=None)
    previous, _STEPS = _STEPS, lambda done, total: bar.update(task, completed=done, total=total)
    try:
        yield
    finally:
        _STEPS = previous
        bar.remove_task(task)
