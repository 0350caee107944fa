"""Reading real tissue sections: cells with positions (µm) and labels, and label mappings.

Formats: CSV (``.csv``, ``.csv.gz``, ``.tsv``), Parquet (``.parquet``, ``.pq``) and AnnData
(``.h5ad``: positions from ``obsm["spatial"]``, labels and sample from ``obs``). Column
names come from the label mapping (``x_column``, ``y_column``, ``label_column``,
``sample_column``); the shipped mapping for the Jackson et al. 2020 IMC cells is
``presets/labels/jackson2020-imc.yaml``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tmesim.model import ModelError

DEFAULT_LABELS = "jackson2020-imc"


@dataclass(frozen=True)
class LabelMapping:
    """Which tissue label becomes which model cell type (``None``: not placed)."""

    name: str
    map: dict[str, str | None]
    x_column: str = "x_um"
    y_column: str = "y_um"
    label_column: str = "label"
    sample_column: str | None = None
    path: str = ""
    extra: dict = field(default_factory=dict)


def labels_path(name: str = DEFAULT_LABELS) -> Path:
    from tmesim._resources import data_path

    return data_path("tmesim.presets", "labels", f"{name}.yaml")


def read_label_mapping(path: str | Path | None = None) -> LabelMapping:
    """A mapping file (default: the shipped Jackson 2020 IMC mapping)."""
    p = labels_path() if path is None else Path(path)
    if not p.is_file():
        shipped = labels_path(str(path)) if path is not None else None
        if shipped is not None and shipped.is_file():
            p = shipped
        else:
            raise ModelError("labels", f"label mapping {str(p)!r} not found; give a YAML file "
                                       f"or the shipped name {DEFAULT_LABELS!r}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ModelError("labels", f"{str(p)!r} is not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("map"), dict):
        raise ModelError("labels", f"{str(p)!r} needs a mapping `map: {{label: cell type or null}}`")
    known = {"name", "map", "x_column", "y_column", "label_column", "sample_column"}
    bad = sorted(set(data) - known)
    if bad:
        raise ModelError("labels", f"unknown keys {bad} in {str(p)!r}; allowed: {', '.join(sorted(known))}")
    return LabelMapping(
        name=str(data.get("name", p.stem)), map={str(k): (None if v is None else str(v)) for k, v in data["map"].items()},
        x_column=str(data.get("x_column", "x_um")), y_column=str(data.get("y_column", "y_um")),
        label_column=str(data.get("label_column", "label")),
        sample_column=None if data.get("sample_column") is None else str(data["sample_column"]), path=str(p),
    )


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_table(p: Path, mapping: LabelMapping) -> pd.DataFrame:
    name = p.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(p)
    if name.endswith(".h5ad"):
        import anndata

        ad = anndata.read_h5ad(p)
        if "spatial" not in ad.obsm:
            raise ModelError("tissue", f"{str(p)!r} has no obsm['spatial'] (cell positions in µm)")
        xy = np.asarray(ad.obsm["spatial"], float)
        df = ad.obs.copy().reset_index(drop=True)
        df[mapping.x_column], df[mapping.y_column] = xy[:, 0], xy[:, 1]
        return df
    if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
        return pd.read_csv(p, sep="\t" if ".tsv" in name else ",")
    raise ModelError("tissue", f"{str(p)!r}: unknown format; allowed: .csv[.gz], .tsv, .parquet, .h5ad")


def read_tissue(path: str | Path, mapping: LabelMapping, sample: str | None = None) -> pd.DataFrame:
    """Cells of a section: columns ``x_um``, ``y_um``, ``label``, ``sample`` (one sample only).

    A file with several samples (``sample_column``) needs ``sample``; one sample is taken
    whole.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError("tissue", f"file {str(p)!r} does not exist")
    df = _read_table(p, mapping)
    need = [mapping.x_column, mapping.y_column, mapping.label_column]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ModelError("tissue", f"{str(p)!r} lacks columns {missing} (from the label mapping "
                                   f"{mapping.name!r}); it has: {', '.join(map(str, df.columns[:20]))}")
    out = pd.DataFrame({"x_um": pd.to_numeric(df[mapping.x_column], errors="coerce"),
                        "y_um": pd.to_numeric(df[mapping.y_column], errors="coerce"),
                        "label": df[mapping.label_column].astype(str)})
    if mapping.sample_column and mapping.sample_column in df.columns:
        out["sample"] = df[mapping.sample_column].astype(str)
    else:
        out["sample"] = "section"
    samples = sorted(out["sample"].unique())
    if sample is None:
        if len(samples) > 1:
            raise ModelError("sample", f"{str(p)!r} holds {len(samples)} samples; choose one with --sample "
                                       f"(e.g. {', '.join(samples[:5])})")
    else:
        if str(sample) not in samples:
            raise ModelError("sample", f"{sample!r} is not a sample of {str(p)!r}; e.g. {', '.join(samples[:8])}")
        out = out[out["sample"] == str(sample)]
    bad = ~np.isfinite(out["x_um"]) | ~np.isfinite(out["y_um"])
    if bad.all():
        raise ModelError("tissue", f"{str(p)!r}: no cell has numeric coordinates")
    return out[~bad].reset_index(drop=True)


def read_cohort(path: str | Path, mapping: LabelMapping) -> pd.DataFrame:
    """Every sample of a file (columns as :func:`read_tissue`)."""
    p = Path(path)
    if not p.is_file():
        raise ModelError("tissue", f"file {str(p)!r} does not exist")
    df = _read_table(p, mapping)
    out = pd.DataFrame({"x_um": df[mapping.x_column].astype(float), "y_um": df[mapping.y_column].astype(float),
                        "label": df[mapping.label_column].astype(str)})
    out["sample"] = df[mapping.sample_column].astype(str) if mapping.sample_column in df.columns else "section"
    return out
