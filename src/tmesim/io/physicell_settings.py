"""Reading a PhysiCell project (``PhysiCell_settings.xml``, initial cells CSV) as a tmesim model.

:func:`read_settings` turns the settings XML into a tmesim model as a plain dict (validated by
``tmesim.model``) and a :class:`MappingReport` that says, entry by entry, what maps exactly,
approximately (off-lattice → lattice) or not at all. :func:`read_cells_csv` reads PhysiCell's
initial cells file (v1: ``x,y,z,type`` without header; v2: a header whose first four columns
are x, y, z, type). The rules file is read by :func:`tmesim.knowledge.import_physicell_rules`.

PhysiCell's units are tmesim's canonical ones (µm, min, µm²/min, 1/min), so values carry
over unchanged except where noted. Parsed with the standard library's ElementTree: the
settings file is plain XML without namespaces.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmesim.model import ModelError
from tmesim.model.units import CONCENTRATION_UNITS

SOURCE = "assumption: imported from PhysiCell settings {name}"


@dataclass
class MappingReport:
    """What of a PhysiCell project maps exactly, approximately or not at all (one line per entry)."""

    exact: list[str] = field(default_factory=list)
    approximate: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    def text(self) -> str:
        out = []
        for title, items in (("maps exactly", self.exact), ("maps approximately", self.approximate),
                             ("not mapped", self.unsupported)):
            out.append(f"{title} ({len(items)}):")
            out += [f"  - {x}" for x in items] or ["  (none)"]
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, list[str]]:
        return {"exact": self.exact, "approximate": self.approximate, "unsupported": self.unsupported}


def _f(node: ET.Element | None, path: str, default: float | None = None) -> float | None:
    el = node.find(path) if node is not None else None
    if el is None or el.text is None or not el.text.strip():
        return default
    try:
        return float(el.text.strip())
    except ValueError:
        raise ModelError(path, f"expected a number, got {el.text.strip()!r}") from None


def _true(el: ET.Element | None, attr: str | None = None) -> bool:
    if el is None:
        return False
    text = el.get(attr) if attr else el.text
    return str(text).strip().lower() in ("true", "1", "yes")


@dataclass
class _Ctx:
    name: str
    report: MappingReport
    site_volume: float
    dims: int
    site: float


def _domain(root: ET.Element, ctx: _Ctx) -> tuple[dict[str, Any], list[float]]:
    d = root.find("domain")
    if d is None:
        raise ModelError("domain", "the settings file has no <domain>")
    lo = [_f(d, f"{a}_min", 0.0) for a in "xyz"]
    hi = [_f(d, f"{a}_max", 0.0) for a in "xyz"]
    dx = _f(d, "dx", 20.0)
    two_d = _true(d.find("use_2D"))
    dims = 2 if two_d else 3
    shape = [max(3, int(round((hi[k] - lo[k]) / dx))) for k in range(dims)]  # type: ignore[operator]
    ctx.dims, ctx.site, ctx.site_volume = dims, float(dx), float(dx) ** 3  # type: ignore[arg-type]
    ctx.report.exact.append(f"domain: [{lo[0]:g}, {hi[0]:g}] x [{lo[1]:g}, {hi[1]:g}]"
                            + ("" if two_d else f" x [{lo[2]:g}, {hi[2]:g}]") + f" µm, {dims}D, voxel {dx:g} µm "
                            f"-> lattice {shape}, site {dx:g} µm")
    ctx.report.approximate.append(f"cells: off-lattice agents -> one cell per {dx:g} µm lattice site "
                                  "(mechanics, cell size and overlap are not modelled)")
    return {"dims": dims, "shape": shape, "site_size": float(dx)}, lo  # type: ignore[list-item]


def _time(root: ET.Element, ctx: _Ctx) -> dict[str, Any]:
    o = root.find("overall")
    max_time = _f(o, "max_time", 14400.0)
    dt = _f(o, "dt_phenotype", 6.0)
    interval = _f(root, "save/full_data/interval", 60.0)
    ctx.report.exact.append(f"max_time {max_time:g} min -> {max_time / 1440:g} days; "  # type: ignore[operator]
                            f"full_data interval {interval:g} min -> output_interval")
    ctx.report.approximate.append(f"time steps: dt_diffusion {_f(o, 'dt_diffusion', 0.01):g}, dt_mechanics "
                                  f"{_f(o, 'dt_mechanics', 0.1):g}, dt_phenotype {dt:g} min -> one step of {dt:g} min "
                                  "(tmesim's diffusion solver is implicit)")
    return {"dt": f"{dt} min", "days": max_time / 1440.0, "output_interval": f"{interval} min",  # type: ignore[operator]
            "checkpoint_interval": f"{max(interval, 1440.0)} min"}  # type: ignore[type-var]


def _substrates(root: ET.Element, ctx: _Ctx) -> list[dict[str, Any]]:
    out = []
    me = root.find("microenvironment_setup")
    for v in (me.findall("variable") if me is not None else []):
        name = v.get("name", "").strip()
        unit = v.get("units", "dimensionless").strip()
        if unit not in CONCENTRATION_UNITS:
            ctx.report.approximate.append(f"substrate {name!r}: unit {unit!r} is not one tmesim converts; "
                                          "read as 'dimensionless' (values unchanged)")
            unit = "dimensionless"
        diff = _f(v, "physical_parameter_set/diffusion_coefficient", 0.0)
        decay = _f(v, "physical_parameter_set/decay_rate", 0.0)
        init = _f(v, "initial_condition", 0.0)
        dbc = v.find("Dirichlet_boundary_condition")
        enabled = _true(dbc, "enabled")
        bval = _f(v, "Dirichlet_boundary_condition", 0.0)
        opts = v.find("Dirichlet_options")
        sub = {"name": name, "unit": unit, "diffusion": diff, "decay": decay, "initial": init,
               "boundary": "dirichlet" if enabled else "no_flux", "boundary_value": bval if enabled else 0.0,
               "source": SOURCE.format(name=ctx.name),
               "description": f"PhysiCell substrate {name} (ID {v.get('ID', '?')})"}
        out.append(sub)
        ctx.report.exact.append(f"substrate {name!r}: diffusion {diff:g} µm²/min, decay {decay:g} 1/min, "
                                f"initial {init:g}, " + (f"Dirichlet {bval:g} on the boundary" if enabled else "no-flux boundary"))
        if opts is not None:
            sides = [b for b in opts.findall("boundary_value") if _true(b, "enabled")]
            if sides and len(sides) < 2 * ctx.dims:
                ctx.report.approximate.append(f"substrate {name!r}: Dirichlet values on some sides only "
                                              f"({', '.join(b.get('ID', '?') for b in sides)}) -> on every side")
            elif sides and len({b.text for b in sides}) > 1:
                ctx.report.approximate.append(f"substrate {name!r}: different Dirichlet values per side -> "
                                              f"the overall value {bval:g} on every side")
    opts = me.find("options") if me is not None else None
    if opts is not None and _true(opts.find("initial_condition"), "enabled"):
        ctx.report.unsupported.append("microenvironment initial condition from a file (uniform initial values used)")
    if opts is not None and _true(opts.find("track_internalized_substrates_in_each_agent")):
        ctx.report.unsupported.append("internalized substrate tracking (no intracellular amounts)")
    return out


def _rates_by_name(node: ET.Element | None, tag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for el in (node.findall(tag) if node is not None else []):
        try:
            out[el.get("name", "")] = float((el.text or "0").strip())
        except ValueError:
            raise ModelError(tag, f"expected a number, got {el.text!r}") from None
    return out


def _cycle_rate(cycle: ET.Element | None, label: str, ctx: _Ctx) -> float:
    """One cycle-entry rate: the inverse of the mean total cycle time over all phases."""
    if cycle is None:
        return 0.0
    code = cycle.get("code", "")
    rates = [float(r.text) for r in cycle.findall("phase_transition_rates/rate") if r.text and r.text.strip()]
    durs = [float(r.text) for r in cycle.findall("phase_durations/duration") if r.text and r.text.strip()]
    total = sum(1.0 / r if r > 0 else float("inf") for r in rates) if rates else sum(durs) if durs else float("inf")
    rate = 0.0 if total == float("inf") or total <= 0 else 1.0 / total
    n = len(rates) or len(durs)
    msg = f"{label}: cycle model {cycle.get('name', code)!r} ({n} phase{'s' if n != 1 else ''}) -> cycle entry {rate:.4g} 1/min"
    if n <= 1:
        ctx.report.exact.append(msg)
    else:
        ctx.report.approximate.append(msg + " (one exponential step with the mean total cycle time)")
    if any(_true(r, "fixed_duration") for r in cycle.iter() if r.get("fixed_duration") is not None):
        ctx.report.approximate.append(f"{label}: fixed-duration cycle phases -> exponential waiting times")
    return rate


# A role guessed from a PhysiCell cell-type name (first match wins), so that role-based readouts
# (clinical, regions, body) find the imported cells; reported as approximate.
ROLE_KEYWORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("cancer-associated fibroblast", "caf"), "caf"), (("regulatory t", "treg"), "treg"),
    (("cd8", "cytotoxic", "effector t", "ctl"), "cd8_t"), (("cd4", "helper t"), "cd4_t"),
    (("tumor", "tumour", "cancer", "carcinoma"), "cancer"), (("macrophage",), "macrophage"),
    (("monocyte",), "monocyte"), (("neutrophil",), "neutrophil"), (("mdsc", "myeloid-derived"), "mdsc"),
    (("nk cell", "natural killer"), "nk"), (("b cell",), "b_cell"), (("fibroblast",), "fibroblast"),
    (("endothelial", "vessel"), "endothelial"), (("adipocyte",), "adipocyte"), (("t cell",), "cd8_t"),
)


def guess_role(name: str) -> str | None:
    low = f" {name.lower().replace('_', ' ')} "
    for words, role in ROLE_KEYWORDS:
        if any(f" {w}" in low for w in words):
            return role
    return None


def _cell_type(cd: ET.Element, ctx: _Ctx, type_names: dict[str, str], subs: list[str],
               custom: list[str]) -> tuple[dict[str, Any], dict[str, float]]:
    name = cd.get("name", "").strip()
    label = f"cell type {name!r}"
    ph = cd.find("phenotype")
    b: dict[str, Any] = {}
    b["cycle entry"] = _cycle_rate(ph.find("cycle") if ph is not None else None, label, ctx)
    ct: dict[str, Any] = {"name": name, "description": f"PhysiCell cell definition {name} (ID {cd.get('ID', '?')})",
                          "source": SOURCE.format(name=ctx.name)}
    role = guess_role(name)
    if role is not None:
        ct["role"] = role
        ctx.report.approximate.append(f"{label}: role {role!r} guessed from its name (role-based readouts count it; "
                                      "edit role: in the model to change)")
    else:
        ctx.report.unsupported.append(f"{label}: no role guessed from its name; role-based readouts skip it "
                                      "(add role: to the model)")
    # Death: rates exactly; the dead cell's lifetime from the death model's phase durations.
    for model in (ph.findall("death/model") if ph is not None else []):
        code, mname = model.get("code", ""), model.get("name", "").lower()
        rate = _f(model, "death_rate", 0.0)
        durs = [float(d.text) for d in model.findall("phase_durations/duration") if d.text]
        if not durs:
            durs = [1.0 / float(r.text) for r in model.findall("phase_transition_rates/rate")
                    if r.text and float(r.text) > 0]
        kind = "apoptosis" if code == "100" or "apoptosis" in mname else "necrosis"
        b[kind] = rate
        if durs:
            ct["apoptotic_clearance" if kind == "apoptosis" else "necrotic_clearance"] = f"{sum(durs)} min"
        ctx.report.exact.append(f"{label}: {kind} rate {rate:g} 1/min"
                                + (f", dead cell cleared after {sum(durs):g} min" if durs else ""))
    vol = _f(ph, "volume/total") if ph is not None else None
    if vol:
        ct["volume"] = float(vol)
        ctx.report.approximate.append(f"{label}: volume {vol:g} µm³ -> the 'volume' signal; cells do not grow or "
                                      "shrink (volume model, fluid fraction, calcification not modelled)")
    share = (vol / ctx.site_volume) if vol else 1.0
    # Motility.
    mot = ph.find("motility") if ph is not None else None
    if mot is not None and _true(mot.find("options/enabled")):
        b["migration speed"] = _f(mot, "speed", 0.0)
        b["migration bias"] = _f(mot, "migration_bias", 0.0)
        ctx.report.approximate.append(f"{label}: motility speed {b['migration speed']:g} µm/min, bias "
                                      f"{b['migration bias']:g} -> lattice walk; persistence time "
                                      f"{_f(mot, 'persistence_time', 0.0):g} min not modelled")
        chem = mot.find("options/chemotaxis")
        adv = mot.find("options/advanced_chemotaxis")
        if adv is not None and _true(adv.find("enabled")):
            for el in adv.findall("chemotactic_sensitivities/chemotactic_sensitivity"):
                v = float((el.text or "0").strip())
                if v:
                    b[f"chemotactic response to {el.get('substrate')}"] = max(-1.0, min(1.0, v))
            ctx.report.approximate.append(f"{label}: advanced chemotaxis sensitivities -> chemotactic responses "
                                          "(clipped to [-1, 1])")
        elif chem is not None and _true(chem.find("enabled")):
            s = (chem.findtext("substrate") or "").strip()
            direction = _f(chem, "direction", 1.0)
            b[f"chemotactic response to {s}"] = 1.0 if direction >= 0 else -1.0  # type: ignore[operator]
            ctx.report.approximate.append(f"{label}: chemotaxis {'up' if direction >= 0 else 'down'} the {s!r} "  # type: ignore[operator]
                                          "gradient -> chemotactic response ±1")
    # Secretion / uptake / export.
    for el in (ph.findall("secretion/substrate") if ph is not None else []):
        s = el.get("name", "")
        sec, tgt = _f(el, "secretion_rate", 0.0), _f(el, "secretion_target", 0.0)
        upt, exp = _f(el, "uptake_rate", 0.0), _f(el, "net_export_rate", 0.0)
        if sec:
            b[f"{s} secretion"] = sec * share  # type: ignore[operator]
            b[f"{s} secretion target"] = tgt
        if upt:
            b[f"{s} uptake"] = upt * share  # type: ignore[operator]
        if exp:
            b[f"{s} export"] = exp / ctx.site_volume  # type: ignore[operator]
        if sec or upt or exp:
            ctx.report.approximate.append(
                f"{label}: {s} secretion {sec:g}, target {tgt:g}, uptake {upt:g} 1/min, export {exp:g} amount/min -> "
                f"rates x {share:.3g} (cell volume / voxel volume, as BioFVM scales them), export / site volume")
    # Interactions and transformations (per named cell type).
    ci = ph.find("cell_interactions") if ph is not None else None
    if ci is not None:
        dead_rate = _f(ci, "dead_phagocytosis_rate")
        for key, beh in (("apoptotic_phagocytosis_rate", "phagocytose apoptotic cell"),
                         ("necrotic_phagocytosis_rate", "phagocytose necrotic cell"),
                         ("other_dead_phagocytosis_rate", "phagocytose other dead cell")):
            v = _f(ci, key, dead_rate)
            if v:
                b[beh] = v
        for tag, group, beh in (("phagocytosis_rate", "live_phagocytosis_rates", "phagocytose {t}"),
                                ("attack_rate", "attack_rates", "attack {t}"),
                                ("fusion_rate", "fusion_rates", "fuse to {t}"),
                                ("immunogenicity", "immunogenicities", "immunogenicity to {t}")):
            for other, v in _rates_by_name(ci.find(group), tag).items():
                default = 1.0 if tag == "immunogenicity" else 0.0
                if other in type_names and v != default:
                    b[beh.format(t=other)] = v
        adr, dur = _f(ci, "attack_damage_rate"), _f(ci, "attack_duration")
        if adr and any(k.startswith("attack ") for k in b):
            b["attack damage rate"] = adr
            if dur:
                b["attack duration"] = f"{dur} min"
        dr = _f(ci, "damage_rate")
        if dr and any(k.startswith("attack ") for k in b) and "attack damage rate" not in b:
            b["attack damage rate"] = dr
    for other, v in _rates_by_name(ph.find("cell_transformations/transformation_rates") if ph is not None else None,
                                   "transformation_rate").items():
        if other in type_names and other != name and v:
            b[f"transform to {other}"] = v
    for other, v in _rates_by_name(ph.find("cell_asymmetric_divisions/asymmetric_division_probabilities")
                                   if ph is not None else None, "asymmetric_division_probability").items():
        if other in type_names and other != name and v:
            b[f"asymmetric division to {other}"] = v
    ig = ph.find("cell_integrity") if ph is not None else None
    if ig is not None:
        if _f(ig, "damage_rate", 0.0):
            b["damage rate"] = _f(ig, "damage_rate")
        if _f(ig, "damage_repair_rate", 0.0):
            b["damage repair rate"] = _f(ig, "damage_repair_rate")
    if ph is not None and ph.find("mechanics") is not None:
        ctx.report.unsupported.append(f"{label}: mechanics (adhesion, repulsion, attachment springs, "
                                      "relative maximum adhesion distance): off-lattice only")
    if ph is not None and ph.find("intracellular") is not None:
        ctx.report.unsupported.append(f"{label}: intracellular model ({ph.find('intracellular').get('type', '?')})")  # type: ignore[union-attr]
    interactions = [k for k in b if k.split(" ")[0] in ("attack", "phagocytose", "fuse", "transform", "asymmetric")]
    if interactions:
        ctx.report.approximate.append(f"{label}: interactions {', '.join(sorted(interactions))} -> one touching "
                                      "partner per step on the lattice")
    # Custom data: the cell type's values are the base values of the custom behaviours.
    values: dict[str, float] = {}
    for el in (cd.find("custom_data") or []):
        try:
            values[el.tag] = float((el.text or "0").strip())
        except ValueError:
            ctx.report.unsupported.append(f"{label}: custom data {el.tag!r} is not a number ({el.text!r})")
            continue
        if el.tag not in custom:
            custom.append(el.tag)
        b[f"custom:{el.tag}"] = values[el.tag]
    ct["behaviours"] = {k: v for k, v in b.items() if v is not None}
    return ct, values


def read_settings(path: str | Path) -> tuple[dict[str, Any], MappingReport, dict[str, Any]]:
    """(model dict, mapping report, project info) of a ``PhysiCell_settings.xml``.

    The project info holds what the caller needs next: the PhysiCell type IDs
    (``type_ids``), per-type secretion scale factors (``exchange_scale``), the rules and
    cells files the settings name (``rules_file``, ``cells_file``), the domain's lower
    corner (``origin``) and the random seed.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError("settings", f"file {str(path)!r} does not exist")
    try:
        root = ET.fromstring(path.read_text())
    except ET.ParseError as exc:
        raise ModelError(str(path), f"invalid XML: {exc}") from None
    if root.tag != "PhysiCell_settings":
        raise ModelError(str(path), f"root element is <{root.tag}>, expected <PhysiCell_settings>")
    report = MappingReport()
    ctx = _Ctx(path.name, report, 8000.0, 2, 20.0)
    domain, origin = _domain(root, ctx)
    time = _time(root, ctx)
    subs = _substrates(root, ctx)
    defs = root.findall("cell_definitions/cell_definition")
    if not defs:
        raise ModelError("cell_definitions", "the settings file defines no cell types")
    type_names = {cd.get("name", "").strip(): cd.get("ID", str(i)) for i, cd in enumerate(defs)}
    type_ids = {int(cd.get("ID", i)): cd.get("name", "").strip() for i, cd in enumerate(defs)}
    custom: list[str] = []
    cell_types = []
    exchange_scale: dict[str, dict[str, float]] = {}
    for cd in defs:
        ct, _ = _cell_type(cd, ctx, type_names, [s["name"] for s in subs], custom)
        cell_types.append(ct)
        vol = ct.get("volume")
        exchange_scale[ct["name"]] = {"rate": (vol / ctx.site_volume) if vol else 1.0, "export": 1.0 / ctx.site_volume}
    if any(cd.get("parent_type") for cd in defs):
        report.exact.append("cell definitions with parent_type: the settings file lists each in full; read as written")
    users: dict[str, Any] = {}
    for el in (root.find("user_parameters") or []):
        kind, text = el.get("type", "double"), (el.text or "").strip()
        try:
            users[el.tag] = int(text) if kind == "int" else float(text) if kind == "double" else \
                text.lower() in ("true", "1") if kind == "bool" else text
        except ValueError:
            users[el.tag] = text
    if users:
        report.exact.append(f"user parameters kept with the model: {', '.join(users)} (read by no engine; "
                            "PhysiCell's custom C++ that uses them is not imported)")
    seed = root.findtext("options/random_seed") or users.get("random_seed")
    rules_file = cells_file = None
    rs = root.find("cell_rules/rulesets/ruleset")
    if rs is not None and _true(rs, "enabled"):
        rules_file = Path(rs.findtext("folder", ".").strip()) / rs.findtext("filename", "").strip()
    cp = root.find("initial_conditions/cell_positions")
    if cp is not None and _true(cp, "enabled"):
        cells_file = Path(cp.findtext("folder", ".").strip()) / cp.findtext("filename", "").strip()
    report.unsupported.append("SVG / legacy outputs, virtual walls, PhysiBoSS and custom C++ (custom.cpp) functions")
    model = {
        "name": (path.resolve().parent.parent if path.resolve().parent.name == "config" else path.resolve().parent).name or path.stem,
        "description": f"Imported from the PhysiCell project {path.name}",
        "domain": domain, "time": time, "substrates": subs, "custom_variables": custom,
        "cell_types": cell_types, "rules": [], "initial": [], "user_parameters": users,
    }
    info = {"type_ids": type_ids, "exchange_scale": exchange_scale, "rules_file": rules_file,
            "cells_file": cells_file, "origin": origin, "seed": seed}
    return model, report, info


def read_cells_csv(path: str | Path, origin: list[float], type_ids: dict[int, str],
                   dims: int, report: MappingReport) -> list[dict[str, Any]]:
    """Placements (region 'cells') from a PhysiCell initial cells CSV, one per cell type."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("cells", f"file {str(path)!r} does not exist")
    rows = [r for r in csv.reader(io.StringIO(path.read_text())) if r and any(c.strip() for c in r)]
    if rows and rows[0][0].strip().lower() == "x":
        extra = [c.strip() for c in rows[0][4:]]
        rows = rows[1:]
        if extra:
            report.unsupported.append(f"initial cells: per-cell columns {', '.join(extra)} (each cell starts with its type's values)")
    names = set(type_ids.values())
    by_type: dict[str, list[list[float]]] = {}
    for k, r in enumerate(rows, 1):
        if len(r) < 4:
            raise ModelError(f"{path} row {k}", f"has {len(r)} columns; expected x, y, z, type")
        t = r[3].strip()
        name = t if t in names else type_ids.get(int(float(t))) if t.replace(".", "", 1).isdigit() else None
        if name is None:
            raise ModelError(f"{path} row {k}.type", f"unknown cell type {t!r}; allowed: {', '.join(sorted(names))} "
                                                      f"or their IDs {', '.join(map(str, sorted(type_ids)))}")
        xyz = [float(r[i]) - origin[i] for i in range(dims)]
        by_type.setdefault(name, []).append(xyz)
    n = sum(len(v) for v in by_type.values())
    report.approximate.append(f"initial cells: {n} cells from {path.name} -> the lattice site holding each position "
                              "(a second cell on a taken site is dropped)")
    return [{"cell_type": t, "region": "cells", "positions": pos, "source": f"assumption: PhysiCell initial cells {path.name}"}
            for t, pos in by_type.items()]
