"""Score a post before it goes out, over HTTP: a FastAPI app around one saved run.

    popfusion serve RUN            # http://127.0.0.1:8000, docs at /docs, the page at /

``POST /predict``, ``/explain`` and ``/advise`` take one post or ``{"posts": [...]}``, in
canonical column names or the run's own (``--map``), with an optional image as base64;
each post goes through the same loader checks as a file, so a bad value is a 422 that
names the post and the field. ``GET /health`` and ``GET /model`` say what is loaded and
what it needs. A run whose user block looked ahead at the author's later posts cannot
score a post before it exists, and is refused at start with what to do instead.
"""

from __future__ import annotations

import base64
import binascii
import gc
import itertools
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from popfusion import __version__
from popfusion.api import PopFusion
from popfusion.data import schema
from popfusion.data.schema import DataError
from popfusion.data.table import from_frame, parse_column_map
from popfusion.names import human

log = logging.getLogger(__name__)
MAX_BODY = 20 * 1024 * 1024  # bytes; a batch of 1,000 posts with text is well under 2 MB
MAX_POSTS = 10_000
SKIPPED = {"split", "label", "image_path", "image_url", "crawled_at"}
_TYPES = {"str": str, "float": float, "flag": int, "time": datetime}


class ServiceError(RuntimeError):
    """A run that cannot be served, with what to do instead."""


def _post_model() -> type[BaseModel]:
    """The request schema of one post, from the canonical columns: every field optional
    here (a run's own column names are allowed too, so the loader's checks decide what
    is missing), each with its meaning in the OpenAPI docs."""
    fields: dict[str, Any] = {
        c.name: (_TYPES[c.kind] | None, Field(None, description=c.doc))
        for c in schema.COLUMNS if c.name not in SKIPPED}
    fields["image_base64"] = (str | None, Field(None, description="the post's image, base64-encoded"))
    return create_model("Post", __config__=ConfigDict(extra="allow"), **fields)


Post = _post_model()


class Posts(BaseModel):
    """A batch of posts, ``{"posts": [...]}``; a bare post is a batch of one."""

    posts: list[Post] = Field(min_length=1, max_length=MAX_POSTS)  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _one(cls, data: Any) -> Any:
        return {"posts": [data]} if isinstance(data, dict) and "posts" not in data else data


class AdviseQuery(BaseModel):
    hours: int = Field(168, ge=1, le=24 * 28, description="hours ahead to score (default one week)")
    start: datetime | None = Field(None, description="first hour to score (default the post's own time)")


def create_app(run_dir: str | Path | None = None, model: PopFusion | None = None,
               column_map: str | None = None, max_body: int = MAX_BODY) -> FastAPI:
    """The service of the run in ``run_dir`` (or of a fitted ``model``), loaded once."""
    if model is None:
        from popfusion.runs import load_run

        model = load_run(Path(run_dir))
    looking = model.looks_ahead()
    if looking:
        raise ServiceError(
            f"this run's {', '.join(looking)} block(s) read the author's later posts (look-ahead), which do "
            "not exist before a post goes out, so its scores would not hold for drafts. Train a run for "
            "serving: `popfusion run serve --data FILE` (the fast preset without look-ahead), or set "
            "`lookahead: false` in the user block's params of your recipe")
    model.detach_cache()  # requests must not grow the run's embedding cache on disk
    gc.collect()
    gc.freeze()  # the model's millions of objects live as long as the process: the collector skips them
    scorer = _Scorer(model, column_map if column_map is not None else model.recipe.data.map)
    app = FastAPI(title="popfusion", version=__version__,
                  description="How popular will a post be, why, and when should it go out.")
    app.add_middleware(BodyLimit, limit=max_body)
    app.exception_handler(DataError)(_data_error)
    app.mount("/static", StaticFiles(directory=str(resources.files("popfusion") / "web")), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("popfusion.web").joinpath("index.html").read_text()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "recipe": model.recipe.name, "version": __version__}

    @app.get("/model")
    def about() -> dict:
        return scorer.about()

    @app.post("/predict")
    def predict(body: Posts) -> dict:
        return scorer.predict(_posts(body))

    @app.post("/explain")
    def explain(body: Posts, top: int = 10) -> dict:
        return scorer.explain(_posts(body), top)

    @app.post("/advise")
    def advise(body: Posts, hours: int = 168, start: datetime | None = None) -> dict:
        query = AdviseQuery(hours=hours, start=start)
        return scorer.advise(_posts(body), query.hours, query.start)

    return app


def _posts(body: Posts) -> list[dict]:
    return [item.model_dump(exclude_none=True) for item in body.posts]


async def _data_error(request: Request, err: DataError) -> JSONResponse:
    """A post the loader refuses: 422, in FastAPI's own error shape, naming the post
    (its place in the request) and the field."""
    loc = ["body", "posts", *([err.row] if err.row is not None else []), *([err.field] if err.field else [])]
    return JSONResponse(status_code=422, content={"detail": [{"loc": loc, "msg": err.reason,
                                                              "type": "value_error"}]})


class _Scorer:
    """Requests to canonical posts, and the model's answers to plain JSON values."""

    def __init__(self, model: PopFusion, column_map: str | None) -> None:
        self.model = model
        self.map = parse_column_map(column_map)
        self.low, self.high = model.interval()
        self.images = model.reads_images()
        self.known_users = set(model.train_labels_["user_id"].astype(str))
        self.compute = threading.Lock()  # one model computation at a time a process: threads would thrash
        self.batcher = _Batcher(self._predict_together)

    def table(self, items: list[dict], folder: Path) -> pd.DataFrame:
        """The posts as the canonical table, images written to ``folder``; a post without
        an id gets one (``draft-<n>``), a naive time is UTC."""
        rows = []
        for n, item in enumerate(items):
            image = item.pop("image_base64", None)
            if "post_id" not in item and "post_id" not in self.map:
                item["post_id"] = f"draft-{n}"
            if image is not None:
                item["image_path"] = str(_image_file(image, folder / f"{n}.img", n))
            rows.append(item)
        frame = pd.DataFrame(rows)
        mapping = {k: v for k, v in self.map.items() if v in frame.columns and k not in frame.columns}
        return from_frame(frame, mapping, folder, source="the request")

    def _scored(self, items: list[dict], work, together: bool = False) -> dict:
        with tempfile.TemporaryDirectory(prefix="popfusion-request-") as folder:
            posts = self.table(items, Path(folder))
            if together:
                return work(posts)
            with self.compute:
                return work(posts)

    def _predict_together(self, batches: list[pd.DataFrame]) -> list[np.ndarray]:
        """The scores of several requests' posts from one pass of the model (scores do not
        depend on the batch); an id that two requests both use is told apart for the pass."""
        seen: set[str] = set()
        parts = []
        for k, posts in enumerate(batches):
            ids = posts["post_id"].astype(str)
            clash = ids.isin(seen).to_numpy()
            seen.update(ids)
            parts.append(posts.assign(post_id=np.where(clash, ids + f"\x1f{k}", ids)) if clash.any() else posts)
        with self.compute:
            scores = self.model.predict(pd.concat(parts, ignore_index=True)).to_numpy()
        bounds = np.cumsum([0] + [len(p) for p in batches])
        return [scores[a:b] for a, b in itertools.pairwise(bounds)]

    def predict(self, items: list[dict]) -> dict:
        def work(posts: pd.DataFrame) -> dict:
            scores = self.batcher(posts)
            unknown = sum(str(u) not in self.known_users for u in posts["user_id"])
            ids = posts["post_id"].astype(str)
            return {"scores": [{"post_id": p, "score": float(s), "low": float(s + self.low),
                                "high": float(s + self.high)} for p, s in zip(ids, scores, strict=True)],
                    "interval": "80% of hold-out posts scored within [low, high] of their label",
                    "unknown_users": unknown,
                    **({"image": "ignored: this run reads no image features"}
                       if not self.images and "image_path" in posts else {})}
        return self._scored(items, work, together=True)

    def explain(self, items: list[dict], top: int) -> dict:
        def work(posts: pd.DataFrame) -> dict:
            e = self.model.explain(posts)
            families = e.by_family()
            out = []
            for row, post_id in enumerate(posts["post_id"]):
                biggest = e.top(row, top)
                out.append({"post_id": str(post_id), "score": float(e.score.iloc[row]),
                            "base": float(e.base.iloc[row]),
                            "families": {k: float(v) for k, v in families.iloc[row].items()},
                            "features": [{"feature": c, "name": human(c), "value": float(v)}
                                         for c, v in biggest.items()]})
            return {"explanations": out}
        return self._scored(items, work)

    def advise(self, items: list[dict], hours: int, start: datetime | None) -> dict:
        def work(posts: pd.DataFrame) -> dict:
            out = []
            for row in range(len(posts)):
                advice = self.model.advise(posts.iloc[[row]], hours, pd.Timestamp(start) if start else None)
                week = advice.week()
                out.append({**advice.summary(), "week": {
                    "weekdays": list(week.index), "hours": [int(h) for h in week.columns],
                    "scores": [[None if np.isnan(v) else float(v) for v in r] for r in week.to_numpy()]}})
            return {"advice": out}
        return self._scored(items, work)

    def about(self) -> dict:
        m = self.model
        holdout = m.validation_.scores["final_drift"]
        return {"popfusion": __version__, "recipe": m.recipe.model_dump(),
                "holdout": {k: holdout[k]["value"] for k in ("src", "mae")},
                "trained_on_posts": m.n_posts_, "models": m.validation_.models,
                "inputs": {"required": list(schema.REQUIRED),
                           "used": m.input_columns_, "column_map": self.map,
                           "images": self.images,
                           "authors": [str(u) for u in m.train_labels_["user_id"].value_counts().index[:200]]}}


def _image_file(data: str, path: Path, row: int) -> Path:
    try:
        raw = base64.b64decode(data.split(",", 1)[-1], validate=True)  # a data: URL or bare base64
    except (binascii.Error, ValueError):
        raise DataError("not valid base64", row=row, field="image_base64") from None
    path.write_bytes(raw)
    return path


class _Batcher:
    """Requests that arrive while the model is busy are scored together in its next pass:
    under load one pass of 50 posts costs far less than 50 passes of one (per-post
    overheads of the feature blocks dominate a single post). Called from the server's
    worker threads: a caller that finds the model free takes every waiting request into
    one pass; the others wait, and one of those still unscored leads the next pass."""

    def __init__(self, score_together) -> None:
        self.score_together = score_together
        self.ready = threading.Condition()
        self.waiting: list[_Job] = []
        self.busy = False

    def __call__(self, posts: pd.DataFrame) -> np.ndarray:
        job = _Job(posts)
        with self.ready:
            self.waiting.append(job)
            self.ready.wait_for(lambda: job.finished or not self.busy)
            if not job.finished:
                self.busy = True
                jobs, self.waiting = self.waiting, []
        if not job.finished:
            self._run(jobs)
            with self.ready:
                self.busy = False
                self.ready.notify_all()
        if job.error is not None:
            raise job.error
        return job.scores

    def _run(self, jobs: list[_Job]) -> None:
        try:
            for job, scores in zip(jobs, self.score_together([j.posts for j in jobs]), strict=True):
                job.scores = scores
        except Exception as err:  # every request of the pass gets its failure
            for job in jobs:
                job.error = err
        for job in jobs:
            job.finished = True


@dataclass
class _Job:
    """One request's posts in the batcher, and what its pass gave them."""

    posts: pd.DataFrame
    scores: np.ndarray | None = None
    error: Exception | None = None
    finished: bool = False


class BodyLimit:
    """A 413 for a request body over ``limit`` bytes, by its Content-Length or, for a
    streamed body, as soon as the bytes received pass it."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send) -> None:
        await JSONResponse({"detail": f"request body over {self.limit:,} bytes; send fewer posts at once"},
                           status_code=413)({"type": "http"}, None, send)


class _TooLarge(Exception):
    pass


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (several worker processes): the run and column
    map from ``POPFUSION_RUN`` and ``POPFUSION_MAP``."""
    return create_app(os.environ["POPFUSION_RUN"], column_map=os.environ.get("POPFUSION_MAP") or None)
