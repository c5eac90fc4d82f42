"""Read a downloaded SMPD folder, as published, into the canonical post table.

Both naming generations are understood (2019/2020 ``train_all_json`` with
``train_tags.json`` ..., 2023+ ``train_allmetadata_json`` with ``train_text.json`` ...).
All files of a split share one row order; the user-data file carries no ids, so rows are
matched by position and every file that has ``Uid``/``Pid`` must agree row by row.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from popfusion.data import schema
from popfusion.data.jsonarray import CHUNK_BYTES, iter_record_chunks
from popfusion.data.schema import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmpdFile:
    """One metadata file: its names in each generation and the fields it maps."""

    key: str
    names: tuple[str, ...]  # 2023+ name first
    fields: dict[str, str]  # SMPD field -> canonical column
    required: bool = True
    has_ids: bool = True


FILES: tuple[SmpdFile, ...] = (
    SmpdFile("category", ("category",),
             {"Category": "category", "Subcategory": "subcategory", "Concept": "concept"}),
    SmpdFile("text", ("text", "tags"),
             {"Title": "title", "Mediatype": "media_type", "Alltags": "tags"}),
    SmpdFile("temporalspatial", ("temporalspatial_information", "temporalspatial"),
             {"Postdate": "posted_at", "Latitude": "latitude", "Longitude": "longitude",
              "Geoaccuracy": "geo_accuracy"}),
    SmpdFile("additional", ("additional_information", "additional"),
             {"Pathalias": "pathalias", "Ispublic": "is_public", "Mediastatus": "media_status"},
             required=False),
    SmpdFile("userdata", ("user_data", "userdata"),
             {"photo_firstdate": "photo_firstdate", "photo_count": "photo_count",
              "ispro": "ispro", "canbuypro": "canbuypro", "timezone_offset": "timezone_offset",
              "photo_firstdatetaken": "photo_firstdatetaken",
              "timezone_timezone_id": "timezone_id", "timezone_id": "timezone_id"},
             required=False, has_ids=False),
)
VECTORS = {
    "user_description": (schema.USER_DESC_PREFIX, schema.USER_DESC_DIM),
    "location_description": (schema.LOC_DESC_PREFIX, schema.LOC_DESC_DIM),
}
LABEL_NAMES = ("label.txt",)
IMAGE_LIST_NAMES = ("img_filepath.txt", "img.txt")


def is_smpd_folder(path: Path) -> bool:
    """True when ``path`` is a folder holding SMPD metadata files for some split."""
    return path.is_dir() and any(_index(path).get(f"{s}_category.json") for s in schema.SPLITS)


def read_smpd(
    root: str | Path,
    splits: tuple[str, ...] = schema.SPLITS,
    image_root: str | Path | None = None,
    vectors: bool = True,
) -> pd.DataFrame:
    """Read the given splits of the SMPD folder ``root`` into one canonical table.

    ``image_root`` is where ``train/<Uid>/<Pid>.jpg`` paths are resolved (default: the
    folder itself). ``vectors=False`` skips the 799-float user and location vectors.
    Splits whose files are absent are skipped with a log line; none at all is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("SMPD folder not found", source=str(root))
    files = _index(root)
    image_root = Path(image_root) if image_root is not None else root
    tables = []
    for split in splits:
        if not any(f"{split}_{n}.json" in files for f in FILES for n in f.names):
            log.info("no %s files in %s", split, root)
            continue
        tables.append(_read_split(root, files, split, image_root, vectors))
    if not tables:
        raise DataError(f"no SMPD files for {', '.join(splits)} (expected e.g. train_category.json)",
                        source=str(root))
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0].reset_index(drop=True)
    return table[schema.canonical_order(table.columns)]


def _index(root: Path) -> dict[str, Path]:
    """File name -> path for the SMPD files under ``root`` (shallowest one wins)."""
    found: dict[str, Path] = {}
    for pattern in ("*.json", "*.txt"):
        for path in sorted(root.rglob(pattern), key=lambda p: len(p.parts)):
            if len(path.relative_to(root).parts) <= 3 and path.name.startswith(schema.SPLITS):
                found.setdefault(path.name, path)
    return found


def _find(files: dict[str, Path], split: str, names: tuple[str, ...], ext: str) -> Path | None:
    for name in names:
        path = files.get(f"{split}_{name}{ext}") if ext else files.get(f"{split}_{name}")
        if path is not None:
            return path
    return None


def _read_split(
    root: Path, files: dict[str, Path], split: str, image_root: Path, vectors: bool
) -> pd.DataFrame:
    columns: dict[str, object] = {}
    ids: dict[str, tuple[Path, np.ndarray, np.ndarray]] = {}
    n_rows: dict[Path, int] = {}
    for spec in FILES:
        path = _find(files, split, spec.names, ".json")
        if path is None:
            if spec.required:
                raise DataError(f"missing SMPD file {split}_{spec.names[0]}.json "
                                f"(or {split}_{spec.names[-1]}.json)", source=str(root))
            log.info("%s: no %s file, its columns stay empty", split, spec.key)
            continue
        fields, vecs, n = _read_file(path, spec, vectors)
        n_rows[path] = n
        if spec.has_ids:
            ids[spec.key] = (path, fields.pop("Uid"), fields.pop("Pid"))
        for raw, canonical in spec.fields.items():
            if raw in fields:
                columns[canonical] = fields[raw]
        columns.update(vecs)
    _check_lengths(n_rows, split)
    uid, pid = _check_ids(ids)
    source = str(ids["category"][0].parent)
    n = len(pid)
    table = pd.DataFrame({"post_id": pid, "user_id": uid, "split": [split] * n})
    scalars = {k: v for k, v in columns.items() if not isinstance(v, pd.DataFrame)}
    table = table.assign(**scalars)
    if "timezone_offset" in table:
        table["timezone_offset"] = _utc_offset_hours(table["timezone_offset"], source)
    label_path = _find(files, split, LABEL_NAMES, "")
    if label_path is not None:
        table["label"] = _read_labels(label_path, n)
    elif split == "train":
        raise DataError(f"missing {split}_label.txt: training posts need labels", source=source)
    image_list = _find(files, split, IMAGE_LIST_NAMES, "")
    if image_list is not None:
        table = table.assign(**_image_columns(image_list, table, image_root, split))
    table = schema.coerce(table, source=f"{source}/{split}_*")
    _drop_zero_geo(table)
    blocks = [table, *(v for v in columns.values() if isinstance(v, pd.DataFrame))]
    table = pd.concat(blocks, axis=1) if len(blocks) > 1 else table
    return schema.validate(table, source=f"{source}/{split}_*")


def _read_file(path: Path, spec: SmpdFile, vectors: bool) -> tuple[dict, dict, int]:
    """Columns of one file as Series (scalars) and DataFrames (vectors), and its row count."""
    wanted = list(spec.fields) + (["Uid", "Pid"] if spec.has_ids else [])
    all_dims = {} if spec.has_ids else {k: dim for k, (_, dim) in VECTORS.items()}
    dims = all_dims if vectors else {}
    scalars: dict[str, list] = {k: [] for k in wanted}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in dims}
    n = 0
    parse = partial(_parse_with_vectors, dims=all_dims, keep=vectors) if all_dims else _parse_plain
    workers = (os.cpu_count() or 1) if all_dims and path.stat().st_size > 4 * CHUNK_BYTES else 1
    for rows, arrays in iter_record_chunks(path, parse, workers=workers):
        bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
        if bad is not None:
            raise DataError("expected a JSON object", source=str(path), row=n + bad)
        for key in wanted:
            scalars[key].extend(_column(rows, key))
        for key, dim in dims.items():
            block = arrays.get(key)
            parts[key].append(block if block is not None else _vector_block(rows, key, dim, path, n))
        n += len(rows)
    if spec.has_ids and n == 0:
        raise DataError("the file holds no posts (an empty JSON array)", source=str(path))
    if spec.has_ids:
        for key in ("Uid", "Pid"):
            missing = [i for i, v in enumerate(scalars[key]) if v is None]
            if missing:
                raise DataError("id missing", source=str(path), row=missing[0], field=key)
    present = {k: pd.Series(v, dtype=object) for k, v in scalars.items() if any(x is not None for x in v)}
    vecs = {}
    for key, dim in dims.items():
        arr = np.concatenate(parts[key]) if parts[key] else np.empty((0, dim), np.float32)
        vecs[key] = pd.DataFrame(arr, columns=schema.vector_columns(VECTORS[key][0], dim), copy=False)
    return present, vecs, n


def _column(rows: list[dict], key: str) -> list:
    try:
        return list(map(itemgetter(key), rows))
    except KeyError:  # some records lack the field
        return [r.get(key) for r in rows]


def _parse_plain(text: bytes) -> tuple[list, dict]:
    return orjson.loads(text), {}


def _parse_with_vectors(text: bytes, dims: dict[str, int], keep: bool) -> tuple[list, dict]:
    """Parse a chunk of user-data records, reading the long float vectors with Arrow's
    multi-threaded CSV parser (JSON parsers take several times longer on 799 floats a
    row), or cutting them out unread when not ``keep``. A vector this fast path cannot
    read is left to the exact, slower reader."""
    slim, found = text, {}
    for key in dims:
        pattern = re.compile(rb'"' + key.encode() + rb'"\s*:\s*\[([^\]]*)\]')
        found[key] = pattern.findall(slim) if keep else []
        slim = pattern.sub(b'"%s":1' % key.encode(), slim)
    rows = orjson.loads(slim)
    if not keep:
        return rows, {}
    arrays = {k: _csv_floats(found[k], dim) if len(found[k]) == len(rows) else None
              for k, dim in dims.items()}
    if any(a is None for a in arrays.values()):
        return orjson.loads(text), {}
    return rows, arrays


def _csv_floats(lines: list[bytes], dim: int) -> np.ndarray | None:
    """(rows, dim) float32 from comma-separated numbers; an empty vector is NaN."""
    empty = b",".join([b"nan"] * dim)
    body = b"\n".join([line if line.strip() else empty for line in lines])
    if b" " in body:  # Python's json.dump writes ", " between numbers
        body = body.replace(b" ", b"")
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True, block_size=1 << 20),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{i}": pa.float32() for i in range(dim)}),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != len(lines) or table.num_columns != dim:
        return None
    return np.column_stack([c.to_numpy() for c in table.columns])


def _vector_block(rows: list[dict], key: str, dim: int, path: Path, offset: int) -> np.ndarray:
    """A (rows, dim) float32 block; a missing or empty vector becomes a row of NaN.
    Slow but exact: it names the row of a vector that is not ``dim`` numbers."""
    values = [r.get(key) for r in rows]
    for i, v in enumerate(values):
        try:
            ok = v is None or (isinstance(v, list) and (
                not v or (len(v) == dim and np.isfinite(np.asarray(v, dtype=np.float64)).all())))
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise DataError(f"expected {dim} numbers", source=str(path), row=offset + i, field=key)
    return np.asarray([v if v else [np.nan] * dim for v in values], dtype=np.float32).reshape(-1, dim)


def _check_lengths(n_rows: dict[Path, int], split: str) -> None:
    if len(set(n_rows.values())) > 1:
        counts = ", ".join(f"{p.name}: {n}" for p, n in n_rows.items())
        raise DataError(f"the {split} files must have the same number of rows ({counts})",
                        source=str(next(iter(n_rows)).parent))


def _check_ids(ids: dict[str, tuple[Path, pd.Series, pd.Series]]) -> tuple[np.ndarray, np.ndarray]:
    """Uid and Pid as strings, after checking that every id-bearing file agrees row by row."""
    ref_path, ref_uid, ref_pid = ids["category"]
    ref = {"Uid": ref_uid.astype(str).to_numpy(), "Pid": ref_pid.astype(str).to_numpy()}
    for path, uid, pid in ids.values():
        for field, values in (("Uid", uid), ("Pid", pid)):
            other = values.astype(str).to_numpy()
            bad = np.flatnonzero(other != ref[field])
            if bad.size:
                row = int(bad[0])
                raise DataError(f"{field} {other[row]!r} does not match {ref[field][row]!r} in "
                                f"{ref_path.name}: files are misaligned", source=str(path),
                                row=row, field=field)
    return ref["Uid"], ref["Pid"]


def _utc_offset_hours(values: pd.Series, source: str) -> pd.Series:
    """'+08:00' / '-05:30' / 'GMT+8' / 'UTC-03:30' / '8' -> hours east of UTC as float
    (parsed once per distinct value)."""
    schema.reject_containers(values, "timezone_offset", source)
    codes, uniques = pd.factorize(values.astype(object).where(~schema.missing_mask(values)))
    text = pd.Series(uniques, dtype="string").str.strip().str.replace(r"^(?:GMT|UTC)\s*", "", regex=True)
    parts = text.str.extract(r"^([+-]?)(\d{1,2})(?::(\d{2}))?$")
    sign = np.where(parts[0].fillna("") == "-", -1.0, 1.0)
    minutes = parts[2].astype("float64").fillna(0.0).where(parts[1].notna())
    hours = sign * (parts[1].astype("float64") + minutes / 60).to_numpy("float64", na_value=np.nan)
    clock = ~np.isnan(hours)
    if (~clock).any():
        plain = pd.Series(uniques[~clock], index=np.flatnonzero(~clock), dtype=object)
        try:
            hours[~clock] = schema.to_float(plain, "timezone_offset", source).to_numpy()
        except DataError as err:
            row = int(np.flatnonzero(codes == err.row)[0])
            raise DataError(err.reason, source=source, row=row, field="timezone_offset") from None
    out = np.where(codes >= 0, hours[codes], np.nan)
    return pd.Series(out, index=values.index)


def _text_lines(path: Path) -> list[str]:
    """The lines of a text file; a byte that is not UTF-8 is an error naming its line."""
    lines = path.read_bytes().splitlines()
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"not UTF-8 text (byte {line[err.start]:#04x})", source=str(path), row=i) from None
    return [line.decode("utf-8") for line in lines]


def _read_labels(path: Path, n: int) -> pd.Series:
    lines = _text_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != n:
        raise DataError(f"{len(lines)} labels for {n} posts", source=str(path))
    labels = schema.to_float(pd.Series(lines, dtype=object), "label", str(path))
    if labels.isna().any():
        row = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise DataError("label missing", source=str(path), row=row, field="label")
    return labels


def _image_columns(path: Path, table: pd.DataFrame, image_root: Path, split: str) -> dict:
    lines = [ln.strip() for ln in _text_lines(path)]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != len(table):
        raise DataError(f"{len(lines)} image entries for {len(table)} posts", source=str(path))
    entries = pd.Series(lines, dtype="string")
    is_url = entries.str.contains("://", regex=False).to_numpy()
    default = (str(image_root / split) + "/" + table["user_id"] + "/" + table["post_id"] + ".jpg")
    local = str(image_root) + "/" + entries
    columns = {"image_path": np.where(is_url, default.to_numpy(), local.to_numpy())}
    if is_url.any():
        columns["image_url"] = np.where(is_url, entries.to_numpy(), None)
    return columns


def _drop_zero_geo(table: pd.DataFrame) -> None:
    """SMPD writes '0' for both coordinates of a post that has no geotag."""
    if {"latitude", "longitude"} <= set(table.columns):
        no_geo = (table["latitude"] == 0) & (table["longitude"] == 0)
        table.loc[no_geo, ["latitude", "longitude"]] = np.nan
