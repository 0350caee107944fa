"""Autocitation: the BibTeX of exactly the sources a model's rules and parameters use."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from typing import Any

from tmesim._resources import data_path
from tmesim.model import Model

DATA = data_path("tmesim.knowledge", "data")
REVIEW_BIBTEX = """@article{terceiro2021breast,
  title = {The Breast Tumor Microenvironment: A Key Player in Metastatic Spread},
  author = {Terceiro, Lucas E. L. and Edechi, Chidalu A. and Ikeogu, Nnamdi M. and Nickel, Barbara E. and Hombach-Klonisch, Sabine and Sharif, Tanveer and Leygue, Etienne and Myal, Yvonne},
  journal = {Cancers},
  volume = {13},
  number = {19},
  pages = {4798},
  year = {2021},
  doi = {10.3390/cancers13194798}
}"""


@lru_cache(maxsize=1)
def review_references() -> dict[int, str]:
    """Reference number → title, from the review's reference list."""
    with open(DATA / "review_references.csv", newline="") as f:
        return {int(r["ref"]): r["title"] for r in csv.DictReader(f)}


def _walk_sources(obj: Any, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        src = obj.get("source")
        if isinstance(src, str) and src:
            out.append((path, src))
        for k, v in obj.items():
            if k != "source":
                _walk_sources(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            name = v.get("name") or v.get("cell_type") if isinstance(v, dict) else None
            _walk_sources(v, f"{path}[{name if name and not isinstance(v.get('signal'), str) else i}]", out)


def model_sources(model: Model) -> list[tuple[str, str]]:
    """(where, source) for every rule and parameter of the model that names a source."""
    out: list[tuple[str, str]] = []
    _walk_sources(model.model_dump(mode="json"), "", out)
    return out


def citation(model: Model) -> str:
    """BibTeX for the review references, DOIs and papers a model uses, plus its assumptions.

    >>> import tmesim
    >>> "terceiro2021breast" in tmesim.citation(tmesim.load_model(tmesim.preset_path("tnbc")))
    True
    """
    refs: dict[int, set[str]] = {}
    dois: dict[str, set[str]] = {}
    papers: dict[str, set[str]] = {}
    assumptions = 0
    for where, src in model_sources(model):
        kind, _, rest = src.partition(":")
        if kind == "review":
            for n in re.findall(r"\d+", rest):
                refs.setdefault(int(n), set()).add(where)
        elif kind == "doi":
            dois.setdefault(rest.strip(), set()).add(where)
        elif kind == "paper":
            papers.setdefault(rest.strip(), set()).add(where)
        else:
            assumptions += 1
    titles = review_references()
    parts = [f"% tmesim citation for model '{model.name}'", REVIEW_BIBTEX]
    for n in sorted(refs):
        title = titles.get(n, "").replace("{", "").replace("}", "")
        parts.append(f"@misc{{terceiro2021ref{n},\n  title = {{{title}}},\n  note = {{Reference [{n}] of doi:10.3390/cancers13194798; "
                     f"used by {len(refs[n])} model entries}}\n}}")
    for i, (doi, users) in enumerate(sorted(dois.items())):
        parts.append(f"@misc{{doi{i + 1},\n  doi = {{{doi}}},\n  note = {{used by {len(users)} model entries}}\n}}")
    for i, (text, users) in enumerate(sorted(papers.items())):
        parts.append(f"@misc{{paper{i + 1},\n  note = {{{text}; used by {len(users)} model entries}}\n}}")
    parts.append(f"% {assumptions} model entries are marked as assumptions (see the model file for the reasoning).")
    return "\n\n".join(parts) + "\n"
