"""Text embeddings: every backend, multilingual signal, batching and resume."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_bert, tiny_causal_lm

from popfusion.features.store import EmbeddingStore, one_at_a_time
from popfusion.features.text import CausalLMEncoder, TextEmbedding, UseEncoder, field_texts, make_encoder

POSTS = pd.DataFrame({
    "post_id": ["1", "2", "3", "4"], "user_id": ["a"] * 4,
    "posted_at": pd.to_datetime([1, 2, 3, 4], unit="D", utc=True),
    "title": ["my dog in the park", "mi perro en el parque", None, "stock market report"],
    "tags": ["dog park", "perro", "", None],
})


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_use_is_multilingual() -> None:
    enc = make_encoder("use")
    v = enc.encode(["my dog in the park", "mi perro en el parque", "stock market report"])
    assert v.shape == (3, 512) and v.dtype == np.float32
    assert _cos(v[0], v[1]) > _cos(v[0], v[2]) + 0.2


def test_use_worker_processes_give_the_same_vectors_bit_for_bit() -> None:
    texts = [f"photo number {i} of the {w} at dusk" for i in range(40) for w in ("river", "cat")]
    encoder = UseEncoder(workers=2, chunk=16)
    split = encoder.encode(texts)
    assert split.shape == (80, 512)
    np.testing.assert_array_equal(split, UseEncoder(workers=1, chunk=16).encode(texts))
    workers = encoder.pool._processes.values()
    encoder.close()  # the workers stop; a later encode starts new ones
    assert encoder.pool is None and not any(w.is_alive() for w in workers)
    np.testing.assert_allclose(encoder.encode(texts[:40]), split[:40], atol=1e-6)


def test_block_columns_fields_and_empty_text() -> None:
    feats = TextEmbedding(backend="tfidf", dim=8).fit_transform(POSTS)
    assert feats.shape == (4, 24)
    assert [c for c in feats.columns if c.startswith("text_title_")][:2] == ["text_title_0", "text_title_1"]
    assert np.isfinite(feats.to_numpy()).all()
    assert field_texts(POSTS, "joined").tolist() == ["my dog in the park. dog park",
                                                    "mi perro en el parque. perro", "",
                                                    "stock market report"]


def test_sentence_transformers_packaged_model() -> None:
    pytest.importorskip("sentence_transformers")
    enc = make_encoder("st")
    v = enc.encode(["a dog in the park", "a puppy on the grass", "quarterly earnings"])
    assert v.shape == (3, 384)
    assert _cos(v[0], v[1]) > _cos(v[0], v[2])


def test_a_model_encoder_travels_as_the_call_that_built_it(tmp_path: Path) -> None:
    """What a cluster task receives: a few hundred bytes, not the weights, rebuilt once a
    process, encoding as the original does."""
    folder = tiny_bert(tmp_path, ["dog", "park", "my", "the", "in"])
    encoder = make_encoder("hf", folder, device="cpu")
    sent = pickle.dumps(encoder)
    assert len(sent) < 1000
    copy = pickle.loads(sent)
    assert pickle.loads(sent) is copy and copy is not encoder and copy.gpu is False
    np.testing.assert_array_equal(copy.encode(["my dog"]), encoder.encode(["my dog"]))


def test_hugging_face_encoder_from_a_local_folder(tmp_path: Path) -> None:
    folder = tiny_bert(tmp_path, ["dog", "park", "my", "the", "in"])
    feats = TextEmbedding(backend="hf", model=folder, fields=("title",)).fit_transform(POSTS)
    assert feats.shape == (4, 16) and np.isfinite(feats.to_numpy()).all()
    assert not np.allclose(feats.iloc[0], feats.iloc[3])


def test_causal_language_model_backend(tmp_path: Path) -> None:
    """A GPT-style model with no padding token: each text's last hidden states, mean-pooled
    over its own tokens, so padding a text among longer ones changes nothing; sub-batches
    give the same vectors as one batch; the encoder travels as the call that built it."""
    folder = tiny_causal_lm(tmp_path, ["dog", "park", "my", "the", "in", "a", "cat"])
    encoder = make_encoder("lm", folder, device="cpu")
    texts = ["my dog", "the cat in the park", "a dog in a park in the park"]
    whole = encoder.encode(texts)
    assert whole.shape == (3, 16) and np.isfinite(whole).all()
    np.testing.assert_allclose(whole[0], encoder.encode(["my dog"])[0], atol=1e-5)
    np.testing.assert_allclose(make_encoder("lm", folder, device="cpu").encode(texts), whole, atol=1e-5)
    np.testing.assert_allclose(CausalLMEncoder(folder, "cpu", batch=1).encode(texts), whole, atol=1e-5)
    assert len(pickle.dumps(encoder)) < 1000
    feats = TextEmbedding(backend="lm", model=folder, fields=("title",)).fit_transform(POSTS)
    assert feats.shape == (len(POSTS), 16) and np.isfinite(feats.to_numpy()).all()
    with pytest.raises(ValueError, match="lm text backend needs a model"):
        make_encoder("lm")


def test_store_resumes_after_a_crash(tmp_path: Path) -> None:
    texts = [f"text {i}" for i in range(10)] * 2
    calls = []

    def encode(batch: list[str]) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed in the middle of the third batch
        return np.array([[float(t.split()[1])] for t in batch])

    store = EmbeddingStore(tmp_path, "enc", batch_size=3, progress=False)
    with pytest.raises(KeyboardInterrupt):
        store.encode(encode, texts, "t")
    rerun: list[int] = []

    def encode_again(batch: list[str]) -> np.ndarray:
        rerun.append(len(batch))
        return np.array([[float(t.split()[1])] for t in batch])

    again = EmbeddingStore(tmp_path, "enc", batch_size=3, progress=False)
    out = again.encode(encode_again, texts, "t")
    assert again.reused == 2 and rerun == [3, 1]  # only the unfinished batches ran
    assert out[:, 0].tolist() == [float(i) for i in range(10)] * 2


@pytest.mark.parametrize("on_disk", [True, False])
def test_one_at_a_time_gives_an_item_the_same_vector_in_any_batch(tmp_path: Path, on_disk: bool) -> None:
    """An encoder whose output depends on its batch (as BLAS makes a neural encoder's, in
    the last bits) gives every item one vector under ``one_at_a_time``, and the store keeps
    those apart from the batched vectors of the same items."""
    def batch_dependent(batch: list[str]) -> np.ndarray:
        return np.array([[float(t) + len(batch) / 8] for t in batch])

    texts = [str(i) for i in range(10)]
    store = EmbeddingStore(tmp_path if on_disk else None, "enc", batch_size=4, progress=False)
    batched = store.encode(batch_dependent, texts, "t")[:, 0]
    assert batched.tolist() != [float(t) + 1 / 8 for t in texts]
    with one_at_a_time():
        together = store.encode(batch_dependent, texts, "t")[:, 0]
        alone = [store.encode(batch_dependent, [t], "t")[0, 0] for t in reversed(texts)][::-1]
    assert together.tolist() == alone == [float(t) + 1 / 8 for t in texts]
    assert store.encode(batch_dependent, texts, "t")[:, 0].tolist() == batched.tolist()  # batched again


def test_a_text_recurring_across_fields_is_encoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    from popfusion.features.text import TfidfEncoder

    posts = pd.DataFrame({"post_id": ["a", "b", "c"], "title": ["red fox", "the blue sky here", "red fox"],
                          "tags": ["red fox", "sun", ""],
                          "caption": ["the blue sky here", "red fox runs fast", "the blue sky here"]})
    seen: list[str] = []
    original = TfidfEncoder.encode

    def spy(self, texts):
        seen.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(TfidfEncoder, "encode", spy)
    block = TextEmbedding(backend="tfidf", dim=2)
    block.cache_dir = tmp_path
    frame = block.fit_transform(posts)
    assert block.fields_ == ["title", "tags", "caption", "joined"]
    joined = set(field_texts(posts, "joined"))
    others = [t for t in seen if t not in joined]
    assert len(others) == len(set(others))  # every distinct text once, whichever fields it is in
    assert set(others) == {"red fox", "the blue sky here", "sun", "", "red fox runs fast"}
    fields = {c.rsplit("_", 1)[0] for c in frame.columns}
    assert fields == {"text_title", "text_tags", "text_caption", "text_joined"}
