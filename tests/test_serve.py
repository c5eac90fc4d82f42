"""Scoring posts before they go out: explanations that add up to the score, advice that
finds a planted best hour, the HTTP service and its page in a real browser."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from popfusion import load
from popfusion.api import PopFusion
from popfusion.cli import app
from popfusion.names import family
from popfusion.recipe import Recipe

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from popfusion.service import ServiceError, create_app  # noqa: E402

BEST_HOUR = 15  # UTC hour of the planted effect


def planted(n: int = 1600, seed: int = 0) -> pd.DataFrame:
    """Posts whose label is the author's level plus a bump for posts at ``BEST_HOUR``
    and noise; the last tenth are unlabelled posts to predict."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 80, n)
    times = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 365, n)), "D")
    times = times.floor("h") + pd.to_timedelta(rng.integers(0, 60, n), "min")
    words = np.array(["sunset", "cat", "city", "river", "snow", "night", "portrait", "food"])
    label = rng.normal(0, 0.8, 80)[users] + 1.5 * (times.hour == BEST_HOUR) + rng.normal(0, 0.3, n) + 5
    frame = pd.DataFrame({"post_id": [f"p{i}" for i in range(n)], "user_id": [f"u{u}" for u in users],
                          "posted_at": times, "title": [" ".join(rng.choice(words, 3)) for _ in range(n)],
                          "tags": [" ".join(rng.choice(words, 2)) for _ in range(n)],
                          "summary": [" ".join(rng.choice(words, 5)) for _ in range(n)], "label": label})
    frame.loc[frame.index[-n // 10:], "label"] = np.nan
    return load(frame)


def recipe(lookahead: bool = False, **changes) -> Recipe:
    spec = {
        "name": "served",
        "features": [{"block": "meta", "params": {"language": False}},
                     {"block": "user", "params": {"lookahead": lookahead}},
                     {"block": "text", "params": {"backend": "tfidf", "dim": 6, "fields": ["joined"]}},
                     {"block": "lexical"}],
        "models": [{"name": "lgb_all", "model": "lightgbm",
                    "params": {"n_estimators": 80, "learning_rate": 0.1}},
                   {"name": "cat_user", "model": "catboost", "features": ["meta", "user"],
                    "params": {"iterations": 60}},
                   {"name": "ridge_text", "model": "ridge", "features": ["text"]}],
        "validation": {"holdout": 0.2, "folds": 2}, "drift": "shift", "bootstrap": 0,
    }
    return Recipe.model_validate(spec | changes)


@pytest.fixture(scope="module")
def posts() -> pd.DataFrame:
    return planted()


@pytest.fixture(scope="module")
def model(posts: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> PopFusion:
    return PopFusion(recipe(), cache_dir=tmp_path_factory.mktemp("cache")).fit(posts)


def drafts(posts: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    return posts[posts["split"] == "test"].head(n)


# -- explanations ---------------------------------------------------------------------------

def test_contributions_add_up_to_the_score(model: PopFusion, posts: pd.DataFrame) -> None:
    new = drafts(posts, 25)
    e = model.explain(new)
    assert np.allclose(e.base + e.contributions.sum(axis=1), model.predict(new), atol=1e-6, rtol=0)
    assert np.allclose(e.score, model.predict(new), atol=1e-6, rtol=0)
    families = e.by_family()
    assert np.allclose(families.sum(axis=1), e.contributions.sum(axis=1), atol=1e-9)
    assert {"user history", "time", "text"} <= set(families.columns)
    # the planted hour moves scores: a post at BEST_HOUR gains from its time family
    hour = new["posted_at"].dt.hour.to_numpy() == BEST_HOUR
    if hour.any() and (~hour).any():
        assert families.loc[hour, "time"].mean() > families.loc[~hour, "time"].mean()


@pytest.mark.parametrize("changes", [
    {"label_transform": "rankgauss", "fusion": {"method": "catboost"}},
    {"label_transform": "standard", "fusion": {"method": "ridge"},
     "models": [{"name": "mlp_user", "model": "mlp", "features": ["meta", "user"], "params": {"epochs": 2}},
                {"name": "ridge_all", "model": "ridge"}]},
])
def test_contributions_add_up_through_every_transform_blend_and_model_agnostic_explainer(
        posts: pd.DataFrame, tmp_path: Path, changes: dict) -> None:
    model = PopFusion(recipe(**changes), cache_dir=tmp_path).fit(posts)
    new = drafts(posts, 8)
    e = model.explain(new)
    assert np.allclose(e.base + e.contributions.sum(axis=1), model.predict(new), atol=1e-6, rtol=0)
    held = model.explain_holdout(40)
    assert len(held.score) == 40 and np.isfinite(held.contributions.to_numpy()).all()


# -- advice ---------------------------------------------------------------------------------

def test_advice_finds_the_planted_hour_and_keeps_the_author_history(model: PopFusion,
                                                                    posts: pd.DataFrame) -> None:
    post = drafts(posts, 1)
    advice = model.advise(post)
    assert len(advice.curve) == 168 and advice.timezone == "UTC"
    assert advice.best(1)["posted_at"].iloc[0].hour == BEST_HOUR
    assert set(advice.best(7)["posted_at"].dt.hour) == {BEST_HOUR}  # one best hour a day
    assert advice.week().shape == (7, 24)
    assert np.isclose(advice.own_score, model.predict(post).iloc[0])
    at_best = post.assign(posted_at=advice.best(1)["posted_at"].iloc[0])
    # only posting-time features move: the same post scored at that hour agrees on the rest
    moved = model.features(at_best).iloc[0]
    here = model.features(post).iloc[0]
    changed = {c for c in here.index if not np.isclose(here[c], moved[c], equal_nan=True)}
    assert {family(c) for c in changed} <= {"time", "user history"}


def test_advice_in_the_authors_time_zone(model: PopFusion, posts: pd.DataFrame) -> None:
    post = drafts(posts, 1).assign(timezone_offset=2.0)
    advice = model.advise(post, hours=48)
    assert advice.timezone == "UTC+2" and len(advice.curve) == 48
    assert (advice.curve["local_time"].dt.hour == (advice.curve["posted_at"].dt.hour + 2) % 24).all()


# -- the service ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(model: PopFusion) -> TestClient:
    return TestClient(create_app(model=model))


def as_json(post: pd.Series) -> dict:
    """A post as a client sends it; ``summary`` is a text column of the platform's own,
    which a single post cannot show to be text: it must be read as training read it."""
    return {"post_id": post["post_id"], "user_id": post["user_id"], "posted_at": post["posted_at"].isoformat(),
            "title": post["title"], "tags": post["tags"], "summary": post["summary"]}


def test_service_scores_equal_predict_alone_and_in_batches(client: TestClient, model: PopFusion,
                                                          posts: pd.DataFrame) -> None:
    new = drafts(posts, 6)
    expected = model.predict(new).to_numpy()
    one = client.post("/predict", json=as_json(new.iloc[0]))
    assert one.status_code == 200 and one.json()["scores"][0]["score"] == expected[0]
    batch = client.post("/predict", json={"posts": [as_json(p) for _, p in new.iterrows()]}).json()
    assert [s["score"] for s in batch["scores"]] == list(expected)
    assert all(s["low"] < s["score"] < s["high"] for s in batch["scores"])


def test_service_explains_advises_and_describes_itself(client: TestClient, posts: pd.DataFrame) -> None:
    post = as_json(drafts(posts, 1).iloc[0])
    explained = client.post("/explain", json=post).json()["explanations"][0]
    assert abs(explained["base"] + sum(explained["families"].values()) - explained["score"]) < 1e-6
    advised = client.post("/advise", params={"hours": 48}, json=post).json()["advice"][0]
    assert len(advised["best"]) == 3 and len(advised["week"]["scores"]) == 7
    assert client.get("/health").json()["status"] == "ok"
    about = client.get("/model").json()
    assert about["recipe"]["name"] == "served" and "user_id" in about["inputs"]["required"]
    assert "/predict" in client.get("/openapi.json").json()["paths"]
    assert "<form" in client.get("/").text and client.get("/static/app.js").status_code == 200


def test_concurrent_requests_scored_together_get_their_own_scores(model: PopFusion,
                                                                 posts: pd.DataFrame) -> None:
    """Requests that arrive together share a pass of the model; each still gets exactly
    the score of its post alone, even when two requests use the same post id."""
    from concurrent.futures import ThreadPoolExecutor

    from popfusion.service import _Scorer

    scorer = _Scorer(model, None)
    new = drafts(posts, 12)
    requests = [[as_json(p) | {"post_id": "same", "posted_at": p["posted_at"]}] for _, p in new.iterrows()]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(scorer.predict, requests))
    alone = [model.predict(new.iloc[[i]].assign(post_id="same")).iloc[0] for i in range(len(new))]
    assert [a["scores"][0]["score"] for a in answers] == alone


def test_unknown_user_is_a_new_user_not_an_error(client: TestClient, posts: pd.DataFrame) -> None:
    post = as_json(drafts(posts, 1).iloc[0]) | {"user_id": "someone-new", "post_id": "d1"}
    answer = client.post("/predict", json=post)
    assert answer.status_code == 200 and answer.json()["unknown_users"] == 1


@pytest.mark.parametrize(("change", "where"), [
    ({"posted_at": "next tuesday"}, ["body", "posts", 1, "posted_at"]),
    ({"latitude": 123}, ["body", "posts", 1, "latitude"]),
    ({"image_base64": "***"}, ["body", "posts", 1, "image_base64"]),
])
def test_malformed_posts_get_a_422_naming_the_post_and_field(client: TestClient, posts: pd.DataFrame,
                                                             change: dict, where: list) -> None:
    good = as_json(drafts(posts, 1).iloc[0])
    answer = client.post("/predict", json={"posts": [good, good | change]})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == where, answer.json()


def test_missing_fields_empty_batches_and_oversized_bodies(posts: pd.DataFrame, model: PopFusion) -> None:
    client = TestClient(create_app(model=model, max_body=10_000))
    missing = client.post("/predict", json={"title": "no author, no time"})
    assert missing.status_code == 422 and "user_id" in missing.json()["detail"][0]["msg"]
    assert client.post("/predict", json={"posts": []}).status_code == 422
    assert client.post("/predict", content=b"not json", headers={"content-type": "application/json"}
                       ).status_code == 422
    big = {"posts": [as_json(drafts(posts, 1).iloc[0])] * 200}
    assert client.post("/predict", json=big).status_code == 413


def test_a_run_that_looked_ahead_is_refused(posts: pd.DataFrame, tmp_path: Path) -> None:
    looking = PopFusion(recipe(lookahead=True), cache_dir=tmp_path).fit(posts)
    with pytest.raises(ServiceError, match=r"look-ahead.*popfusion run serve"):
        create_app(model=looking)


# -- the command line -----------------------------------------------------------------------

def test_explain_advise_and_serve_commands(posts: pd.DataFrame, tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "posts.csv"
    posts.drop(columns=["split"]).to_csv(data, index=False)
    spec = tmp_path / "served.yaml"
    spec.write_text(json.dumps(recipe().model_dump()))
    run = tmp_path / "run"
    assert runner.invoke(app, ["run", str(spec), "--data", str(data), "--out", str(run), "-q"]).exit_code == 0
    new = tmp_path / "drafts.csv"
    drafts(posts, 3).drop(columns=["split", "label"]).to_csv(new, index=False)
    said = runner.invoke(app, ["explain", str(run), "--data", str(new), "--json", "-q"])
    assert said.exit_code == 0, said.output
    table = pd.read_parquet(run / "explanations.parquet")
    contributions = table.drop(columns=["post_id", "base", "score"]).sum(axis=1)
    assert len(table) == 3 and np.allclose(table["base"] + contributions, table["score"], atol=1e-6)
    advised = runner.invoke(app, ["advise", str(run), "--data", str(new), "--hours", "24", "--json", "-q"])
    assert advised.exit_code == 0 and len(json.loads(advised.stdout)["advice"]) == 3
    assert len(pd.read_parquet(run / "advice.parquet")) == 72
    looking = tmp_path / "looking.yaml"
    looking.write_text(json.dumps(recipe(lookahead=True).model_dump()))
    run2 = tmp_path / "run2"
    trained = runner.invoke(app, ["run", str(looking), "--data", str(data), "--out", str(run2), "-q"])
    assert trained.exit_code == 0
    refused = runner.invoke(app, ["serve", str(run2)])
    assert refused.exit_code == 1 and "look-ahead" in " ".join(refused.output.split())


# -- the page, in a real browser --------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model: PopFusion):
    uvicorn = pytest.importorskip("uvicorn")
    port = _free_port()
    config = uvicorn.Config(create_app(model=model), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_the_page_scores_explains_and_advises_a_draft(server: str, browser, model: PopFusion,
                                                      posts: pd.DataFrame, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    post = drafts(posts, 1).iloc[0]
    browser.get(server + "/")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: "hold-out SRC" in d.find_element(By.ID, "about").text)
    for field in ("title", "tags", "user_id"):
        box = browser.find_element(By.ID, field)
        box.clear()
        box.send_keys(post[field])
    when = post["posted_at"].strftime("%Y-%m-%dT%H:%M")
    browser.execute_script("document.getElementById('posted_at').value = arguments[0]", when)
    browser.find_element(By.ID, "score").click()
    wait.until(ready.visibility_of_element_located((By.ID, "results")))
    typed = drafts(posts, 1).drop(columns="summary")  # the page has no field for it: scored as missing
    expected = model.predict(typed.assign(posted_at=post["posted_at"].floor("min"))).iloc[0]
    assert browser.find_element(By.ID, "score-value").text == f"{expected:.3f}"
    bars = browser.find_elements(By.CSS_SELECTOR, "#families g.bar")
    assert len(bars) == len(model.explain(drafts(posts, 1)).by_family().columns)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#week tr")) == 8  # a header and 7 days
    assert len(browser.find_elements(By.CSS_SELECTOR, "#week td")) == 7 * 24
    assert str(BEST_HOUR) in browser.find_element(By.ID, "best").text
    browser.save_screenshot(str(tmp_path / "page.png"))
    browser.find_element(By.ID, "user_id").clear()
    browser.find_element(By.ID, "score").click()  # no author: the browser's own check stops it
    assert not browser.find_element(By.ID, "error").is_displayed()
