"""Shared fixtures: small SMPD folders written by the tests themselves."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from popfusion.data.synthetic import SynthSpec, generate

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_DATA = SHARED / "data"

# Names of the metadata files in each SMPD generation: (folder, {key: file stem}).
GENERATIONS = {
    "2023": ("{s}_allmetadata_json", {"category": "category", "text": "text",
                                      "temporalspatial": "temporalspatial_information",
                                      "additional": "additional_information",
                                      "userdata": "user_data"}),
    "2019": ("{s}_all_json", {"category": "category", "text": "tags",
                              "temporalspatial": "temporalspatial", "additional": "additional",
                              "userdata": "userdata"}),
}


def smpd_records(n: int = 4, dim_user: int = 399, dim_loc: int = 400) -> dict[str, list[dict]]:
    """``n`` posts as the official files give them: strings for ids, dates and geo."""
    ids = [{"Uid": f"{10 + i % 2}@N0{i % 2}", "Pid": str(100 + i)} for i in range(n)]
    return {
        "category": [{**d, "Category": "Whether&Season", "Subcategory": "Snow, Ice",
                      "Concept": "snowman"} for d in ids],
        "text": [{**d, "Title": f"title {i}", "Mediatype": "photo", "Alltags": "snow winter"}
                 for i, d in enumerate(ids)],
        "temporalspatial": [{**d, "Postdate": str(1446016778 + 3600 * i),
                             "Latitude": "0" if i % 2 else "40.712800",
                             "Longitude": "0" if i % 2 else "-74.006000",
                             "Geoaccuracy": "0" if i % 2 else "16"} for i, d in enumerate(ids)],
        "additional": [{**d, "Pathalias": "None" if i % 2 else "alias", "Ispublic": "1",
                        "Mediastatus": "ready"} for i, d in enumerate(ids)],
        "userdata": [{"photo_firstdate": "1152193500", "photo_count": 1543, "ispro": 0,
                      "canbuypro": 1, "timezone_offset": "-05:00",
                      "photo_firstdatetaken": "2005-08-31 12:00:00",
                      "timezone_timezone_id": "America/New_York",
                      "user_description": [0.5] * dim_user,
                      "location_description": [] if i == 0 else [0.25] * dim_loc}
                     for i in range(n)],
    }


def write_smpd(root: Path, records: dict[str, list[dict]] | None = None, split: str = "train",
               generation: str = "2023", labels: list[str] | None = None) -> Path:
    """Write an SMPD split in the given naming generation; returns ``root``."""
    records = smpd_records() if records is None else records
    folder_pattern, names = GENERATIONS[generation]
    folder = root / folder_pattern.format(s=split)
    folder.mkdir(parents=True, exist_ok=True)
    for key, rows in records.items():
        rows = rows if generation == "2023" or key != "userdata" else [
            {("timezone_id" if k == "timezone_timezone_id" else k): v for k, v in r.items()}
            for r in rows]
        (folder / f"{split}_{names[key]}.json").write_bytes(
            orjson.dumps(rows).replace(b'","', b'", "'))  # spaces, as Python's json writes
    n = len(records["category"])
    if split == "train":
        labels = labels if labels is not None else [f"{5 + i / 10:.2f}" for i in range(n)]
        (root / "train_label.txt").write_text("\n".join(labels) + "\n")
    (root / f"{split}_img_filepath.txt").write_text(
        "\n".join(f"{split}/{r['Uid']}/{r['Pid']}.jpg" for r in records["category"]) + "\n")
    return root


@pytest.fixture(scope="session")
def synth_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,500-post synthetic SMPD with images, shared by the tests that only read it."""
    return generate(tmp_path_factory.mktemp("synth") / "smpd", SynthSpec(posts=1500, seed=7),
                    progress=False)


@pytest.fixture(scope="session")
def synth_large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40,000-post synthetic SMPD without images, for calibration checks."""
    return generate(tmp_path_factory.mktemp("synth") / "smpd",
                    SynthSpec(posts=40_000, seed=3, images=False), progress=False)


def tiny_bert(folder: Path, words: list[str]) -> str:
    """A randomly initialised one-layer BERT with a word vocabulary, saved to ``folder``."""
    transformers = pytest.importorskip("transformers")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (folder / "vocab.txt").write_text("\n".join(vocab))
    transformers.BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32)
    transformers.BertModel(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium through Selenium (the distribution's chromium and chromium-driver)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("no Chromium and chromedriver installed (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def tiny_causal_lm(folder: Path, words: list[str]) -> str:
    """A randomly initialised one-layer GPT-Neo with a word-level tokenizer that, like
    GPT's, has an end-of-text token and no padding token, saved to ``folder``."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(["<|endoftext|>", "[UNK]", *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>",
                                         unk_token="[UNK]").save_pretrained(folder)
    config = transformers.GPTNeoConfig(vocab_size=len(vocab), hidden_size=16, num_layers=1, num_heads=2,
                                       attention_types=[[["global"], 1]], max_position_embeddings=64)
    transformers.GPTNeoForCausalLM(config).save_pretrained(folder)
    return str(folder)


def tiny_roberta(folder: Path) -> str:
    """A randomly initialised one-layer RoBERTa (masked-language-model head included) with
    a byte-level tokenizer of single letters, saved to ``folder``."""
    import json

    transformers = pytest.importorskip("transformers")
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>", "\u0120",
                                         *"abcdefghijklmnopqrstuvwxyz"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    tokenizer.save_pretrained(folder)
    config = transformers.RobertaConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=80)
    transformers.RobertaForMaskedLM(config).save_pretrained(folder)
    return str(folder)
