"""Time the default feature set on a synthetic SMPD and extrapolate to the full 486K posts.

    python benchmarks/features.py --posts 100000

Builds every non-image block of the `smp` preset (text-sourced clusters and neighbours)
on all posts, from an empty cache, and measures the image encoder on a subset: the
streaming pipeline (decode threads + model + store) against the raw model on images
already in memory. Writes the "Feature blocks" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from report import machine, write_section

from popfusion import load
from popfusion.data.synthetic import SynthSpec, generate
from popfusion.features.cache import FeatureCache
from popfusion.features.clusters import Clusters
from popfusion.features.image import ImageEmbedding, ImageStats, decode, make_image_encoder
from popfusion.features.knn import NeighbourLabels
from popfusion.features.meta import Metadata
from popfusion.features.text import TextEmbedding
from popfusion.features.user_history import UserHistory

FULL = 486_194


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def image_throughput(paths: list[str], size: int, cache: Path) -> tuple[float, float]:
    """Images per second: the raw model on decoded images, and the whole block."""
    import torch

    block = ImageEmbedding(size=size)
    batch = block.params["batch_size"]
    encoder = make_image_encoder("efficientnet", size=size)
    images = np.stack([decode(p, size) for p in paths[:256]])
    with torch.inference_mode():
        encoder.encode(images[:batch])  # warm up
        start = time.perf_counter()
        for i in range(0, len(images), batch):
            encoder.encode(images[i : i + batch])
        raw = len(images) / (time.perf_counter() - start)
    block.cache_dir = cache
    block.fit(pd.DataFrame())
    start = time.perf_counter()
    block.transform(pd.DataFrame({"image_path": paths}))
    return raw, len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=2000, help="images for the encoder measurement")
    parser.add_argument("--work", type=Path, default=Path("/tmp/popfusion-bench"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    data = generate(args.work / f"smpd-{args.posts}", SynthSpec(posts=args.posts, seed=0))
    posts = load(data)
    cache_dir = args.work / f"features-{args.posts}"
    shutil.rmtree(cache_dir, ignore_errors=True)
    cache = FeatureCache(cache_dir)
    # the `fast` preset's blocks: text embeddings of title and tags joined
    blocks = [Metadata(), UserHistory(), TextEmbedding(fields=("joined",)), Clusters(source="text"),
              NeighbourLabels(source="text")]
    rows, total = [], 0.0
    for block in blocks:
        _, result = cache.build(block, posts)
        scale = FULL / len(posts)  # every block is linear in the posts (k-NN: capped reference set)
        total += result.seconds * scale
        rows.append(f"| {block.name} | {result.columns} | {result.seconds:.1f} s | "
                    f"{len(posts) / result.seconds:,.0f} | {result.seconds * scale / 60:.1f} min |")
        print(rows[-1])
    paths = posts["image_path"].dropna().tolist()[: args.images]
    start = time.perf_counter()
    ImageStats().fit_transform(pd.DataFrame({"image_path": paths}))
    stats_rate = len(paths) / (time.perf_counter() - start)
    print(f"imgstat: {stats_rate:.0f} img/s")
    raw, piped = {}, {}
    for size in (224, 128):
        raw[size], piped[size] = image_throughput(paths, size, cache_dir / f"img{size}")
        print(f"image {size}px: raw model {raw[size]:.1f} img/s, block {piped[size]:.1f} img/s")
    text = f"""## Feature blocks
`python benchmarks/features.py --posts {args.posts}` on {machine()}: a {args.posts:,}-post
synthetic SMPD (64-pixel JPEGs), every block from an empty cache, one process; peak memory
{peak_gb():.1f} GB. Extrapolated linearly to the full {FULL:,} posts (an upper bound for
`cluster`, whose k-means fit is capped at 50,000 posts).

| block | columns | wall time | posts/s | at {FULL:,} posts |
|---|---|---|---|---|
{chr(10).join(rows)}

All these non-image blocks at full size: about {total / 60:.1f} minutes (target: under 10).
USE runs in one process per core with one BLAS thread each (1.3x a single two-threaded
process); k-NN spreads its top-k search over threads.
Text embeddings of title, tags and joined separately (the `smp` preset) cost three times
the text row.

Image statistics: {stats_rate:.0f} images/s ({FULL / stats_rate / 60:.0f} minutes at full size).
The default image encoder (EfficientNet-Lite0, {len(paths):,} images, decode threads feeding
the model through a bounded queue) against the raw model on images already in memory:

| input size | raw model | image block | share | {FULL:,} images |
|---|---|---|---|---|
""" + "\n".join(
        f"| {s} px | {raw[s]:.1f} img/s | {piped[s]:.1f} img/s | {piped[s] / raw[s]:.0%} | "
        f"{FULL / piped[s] / 3600:.1f} h |" for s in raw) + "\n"
    if not args.no_write:
        write_section(text)
        print("BENCHMARKS.md updated")


if __name__ == "__main__":
    main()
