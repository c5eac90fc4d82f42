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


def test_clip_from_a_tiny_random_model(photos: dict[str, str], tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": 100, "max_position_embeddings": 16},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=8)
    transformers.CLIPModel(config).save_pretrained(tmp_path)
    block = ImageEmbedding(backend="clip", model=str(tmp_path))
    f = block.fit_transform(pd.DataFrame({"image_path": [photos["chelsea"], photos["coffee"]]}))
    assert f.shape == (2, 8) and np.isfinite(f.to_numpy()).all()
    assert not np.allclose(f.iloc[0], f.iloc[1])
