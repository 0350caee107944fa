"""Edits of a primary section: the in-silico experiments behind the coupled cascade.

``knockout(model, "tgfb_block")`` blocks the TGF-β pathway in the section (no cell secretes
or exports TGF-β, no rule responds to it; review:121, 122); ``knockout(model, "deplete:<type>")``
removes a cell type from the section (no initial cells, no recruitment, nothing transforms
into it) — e.g. M2 macrophages (review:58, 59), platelets (review:85-87) or CAFs (review:27, 30).
The section is then run again and the body level reads the edited section, so a knockout
reaches metastasis only through the section quantities the coupling maps
(:mod:`tmesim.body.coupling`). Exosome release is blocked in the coupling itself
(``PatientOptions(exosomes=False)``, a Rab27a knockdown), since the section has no exosomes.
"""

from __future__ import annotations

from tmesim.model import Model, ModelError, model_from_dict

KNOCKOUTS = ("tgfb_block", "deplete:<cell type>")


def _tgfb_block(data: dict) -> None:
    for ct in data["cell_types"]:
        for key in list(ct.get("behaviours") or {}):
            if key.startswith("tgfb secretion") or key == "tgfb export":
                ct["behaviours"][key] = 0.0
    data["rules"] = [r for r in data["rules"] if r["signal"] != "tgfb"
                     and r["behaviour"] not in ("tgfb secretion", "tgfb export")]


def _deplete(data: dict, name: str) -> None:
    names = [ct["name"] for ct in data["cell_types"]]
    if name not in names:
        raise ModelError("knockout", f"deplete:{name}: no such cell type; the model has {', '.join(names)}")
    data["initial"] = [p for p in data.get("initial") or [] if p["cell_type"] != name]
    for ct in data["cell_types"]:
        beh = ct.get("behaviours") or {}
        if ct["name"] == name and "recruitment" in beh:
            beh["recruitment"] = 0.0
        if f"transform to {name}" in beh:
            beh[f"transform to {name}"] = 0.0
    data["rules"] = [r for r in data["rules"] if r["behaviour"] != f"transform to {name}"
                     and not (r["cell_type"] == name and r["behaviour"] == "recruitment")]


def knockout(model: Model, *edits: str) -> Model:
    """``model`` with each edit applied (the model itself is unchanged)."""
    if not edits:
        return model
    data = model.model_dump(mode="json")
    for e in edits:
        kind, _, arg = e.partition(":")
        if e == "tgfb_block":
            _tgfb_block(data)
        elif kind == "deplete" and arg:
            _deplete(data, arg)
        else:
            raise ModelError("knockout", f"{e!r}; allowed: {', '.join(KNOCKOUTS)}")
    return model_from_dict(data)


__all__ = ["KNOCKOUTS", "knockout"]
