"""Where the expensive work of a run goes: in this process (the default), or as tasks on
a Ray cluster (``popfusion run --ray auto|ADDRESS``, or ``compute: {ray: ...}`` in a
recipe).

The work is the same either way and is written once: callers ``submit`` a function with
its arguments and the resources it needs, and read the results back with ``gather``. In
this process a submitted function runs at once, so a run without Ray does exactly what
it did before there was a choice (and never imports Ray). On a cluster every submission
is a Ray task, retried by Ray on another worker when its worker dies; the caller saves
what each task returns (checkpoints, embedding batches) the way it saves its own work,
so only the driver's machine needs the run's folders, and a driver killed in the middle
resumes from them when rerun.

Which cluster is in use is a setting of the whole run, like joblib's parallel backend:
``running(address)`` makes it ``current()`` for the blocks and models that ask.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

Done = Callable[[Any], None] | None  # called with a task's result when it is in


class Local:
    """This process: a submitted function runs at once."""

    distributed = False

    def put(self, value: Any) -> Any:
        """A handle to ``value`` that tasks share (here: the value itself)."""
        return value

    def submit(self, fn: Callable, *args: Any, cpus: float = 1, memory: int = 0, gpu: bool = False,
               done: Done = None) -> _Ready:
        """``fn(*args)``, with ``done`` called on its result."""
        result = fn(*args)
        if done is not None:
            done(result)
        return _Ready(result)

    def gather(self, futures: Sequence[_Ready]) -> list:
        return [f.value for f in futures]

    def close(self) -> None:
        """Nothing to stop."""


class _Ready:
    """A result that is already in."""

    def __init__(self, value: Any) -> None:
        self.value = value


def ready(value: Any) -> _Ready:
    """``value`` as a result that ``gather`` returns like a task's (a reused checkpoint)."""
    return _Ready(value)


class RayCluster:
    """A Ray cluster: ``"auto"`` starts one on this machine with all its cores (stopped by
    ``close``); any other address joins a running cluster (``ray://host:10001``, or
    ``host:6379`` from one of its nodes). Each task asks for the CPUs, memory and GPU
    its work needs, capped at ``cpus`` and at what the largest node has, and is retried
    up to ``retries`` times when its worker dies."""

    distributed = True

    def __init__(self, address: str = "auto", retries: int = 3, cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ComputeError("running on Ray needs the ray extra: pip install 'popfusion[ray]'") from None
        self.ray = ray
        self.retries, self.cpus = retries, cpus
        self.started = not ray.is_initialized()
        if self.started:
            if address != "auto":
                _check_reachable(address)
            local = address == "auto"
            options = {"address": "local", "num_cpus": os.cpu_count()} if local else {"address": address}
            try:
                ray.init(**options, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, ValueError, RuntimeError) as err:
                raise ComputeError(f"could not reach the Ray cluster at {address!r}: {err}") from None
        nodes = [n["Resources"] for n in ray.nodes() if n["Alive"]]
        self.node_cpus = max(n.get("CPU", 1.0) for n in nodes)
        self.node_memory = max(n.get("memory", 0.0) for n in nodes)
        self.gpus = sum(n.get("GPU", 0.0) for n in nodes)
        log.info("Ray cluster %s: %d node(s), %g CPUs, %d GPU(s)", address, len(nodes),
                 sum(n.get("CPU", 0.0) for n in nodes), self.gpus)
        self.task = ray.remote(_in_task)
        self.callbacks: dict[Any, Done] = {}
        self.tasks_by_node: Counter[str] = Counter()

    def put(self, value: Any) -> Any:
        return self.ray.put(value)

    def submit(self, fn: Callable, *args: Any, cpus: float = 1, memory: int = 0, gpu: bool = False,
               done: Done = None) -> Any:
        threads = max(1.0, min(float(cpus), self.cpus or self.node_cpus, self.node_cpus))
        options = {"num_cpus": threads, "num_gpus": 1 if gpu and self.gpus else 0,
                   "max_retries": self.retries, "name": getattr(fn, "__name__", "task")}
        if memory and self.node_memory:
            options["memory"] = int(min(memory, 0.8 * self.node_memory))
        ref = self.task.options(**options).remote(fn, int(threads), *args)
        self.callbacks[ref] = done
        return ref

    def gather(self, futures: Sequence[Any]) -> list:
        """The results in the order submitted (tasks' and ``ready`` ones); each task's
        ``done`` runs as soon as its result is in."""
        results = {}
        waiting = [f for f in futures if not isinstance(f, _Ready)]
        while waiting:
            finished, waiting = self.ray.wait(waiting, num_returns=1)
            try:
                node, results[finished[0]] = self.ray.get(finished[0])
            except self.ray.exceptions.RayTaskError as err:  # the task's own error, as here
                raise err.cause from None
            self.tasks_by_node[node] += 1
            done = self.callbacks.pop(finished[0])
            if done is not None:
                done(results[finished[0]])
        return [f.value if isinstance(f, _Ready) else results[f] for f in futures]

    def close(self) -> None:
        """Say where the tasks ran; stop the cluster if this process started it."""
        if self.tasks_by_node:
            nodes = ", ".join(f"{node[:8]}: {n}" for node, n in self.tasks_by_node.most_common())
            log.info("Ray: %d tasks on %d node(s) (%s)", sum(self.tasks_by_node.values()),
                     len(self.tasks_by_node), nodes)
        if self.started:
            self.ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail at once on an address nothing listens at (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except ValueError:
        raise ComputeError(f"{address!r} is not a Ray address: use auto, host:port or "
                           "ray://host:port") from None
    except OSError as err:
        raise ComputeError(f"no Ray cluster at {address!r} ({err.strerror or err}): start one with "
                           "`ray start --head`, or use --ray auto for a local one") from None


class ComputeError(RuntimeError):
    """A cluster that cannot be used: the ray extra is missing or the address is wrong."""


_THREADS: int | None = None  # set inside a Ray task: the CPUs the task was given


def threads() -> int:
    """How many threads a fit or an encoder may use here: inside a Ray task the CPUs it
    asked for (so tasks sharing a node do not oversubscribe it), else every core."""
    return _THREADS or os.cpu_count() or 1


def _in_task(fn: Callable, n_threads: int, *args: Any) -> tuple[str, Any]:
    """Runs on a Ray worker: its node's id, and ``fn(*args)`` with the task's CPUs as its
    thread count, in BLAS and OpenMP too (a worker keeps the thread counts of the first
    task it ran, and a sum split over another number of threads differs in its last bits)."""
    import ray
    from threadpoolctl import threadpool_limits

    global _THREADS
    _THREADS = n_threads
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n_threads)
    with threadpool_limits(limits=n_threads):
        result = fn(*args)
    return ray.get_runtime_context().get_node_id(), result


class Portable:
    """An object holding a loaded model (an encoder) that travels to a worker as the call
    that built it, and is built there once a process, not pickled with its weights.
    ``args``: the constructor's arguments, set by the subclass."""

    args: tuple = ()

    def __reduce__(self) -> tuple:
        return _built, (type(self), self.args)


@functools.cache
def _built(cls: type, args: tuple) -> Portable:
    return cls(*args)


_CURRENT: Local | RayCluster = Local()


def current() -> Local | RayCluster:
    """Where the run under way sends its work."""
    return _CURRENT


@contextmanager
def running(address: str | None, retries: int = 3, cpus: int | None = None) -> Iterator[Local | RayCluster]:
    """Work goes to the Ray cluster at ``address`` (``auto``: a local one, stopped at the
    end) for the duration, or to this process for ``None``; then back to what it was."""
    global _CURRENT
    compute = Local() if address is None else RayCluster(address, retries, cpus)
    previous, _CURRENT = _CURRENT, compute
    try:
        yield compute
    finally:
        _CURRENT = previous
        compute.close()
