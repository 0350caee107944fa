"""The rules table on disk: PhysiCell's cell-behaviour rules CSV, plus source and statement.

tmesim writes a header row and two extra columns::

    cell_type,signal,direction,behaviour,saturation,half_max,hill_power,apply_to_dead,source,statement

and reads that, or a PhysiCell file without a header in either of PhysiCell's layouts:
v3 (8 columns: cell type, signal, direction, behavior, saturation value, half-max, Hill
power, applies to dead) or v2 (9 columns, with the base value in column 5, ignored because
the base value belongs to the cell definition).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ModelError

COLUMNS = ["cell_type", "signal", "direction", "behaviour", "saturation", "half_max",
           "hill_power", "apply_to_dead", "source", "statement"]
PHYSICELL_V3 = COLUMNS[:8]


def _number(text: str, field: str) -> float | str:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        if any(c.isalpha() for c in text):
            return text  # a quantity with units; resolved by the model
        raise ModelError(field, f"expected a number, got {text!r}") from None


def parse_rules(text: str, origin: str = "rules") -> list[dict[str, Any]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].lstrip().startswith("#") and any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().lower().replace("behavior", "behaviour") for c in rows[0]]
    if "cell_type" in header:
        missing = [c for c in PHYSICELL_V3 if c not in header]
        if missing:
            raise ModelError(origin, f"header lacks columns {missing}; expected {COLUMNS}")
        body = rows[1:]
        layout = header
    else:
        body = rows
        ncol = len(rows[0])
        if ncol == 8:
            layout = PHYSICELL_V3
        elif ncol == 9:
            layout = PHYSICELL_V3[:4] + ["_base"] + PHYSICELL_V3[4:]
        else:
            raise ModelError(origin, f"a rules row has {ncol} columns; PhysiCell rules have 8 (v3) or 9 (v2), tmesim's have a header {COLUMNS}")
    out = []
    for i, row in enumerate(body, start=2 if layout is header else 1):
        where = f"{origin} line {i}"
        if len(row) < 8:
            raise ModelError(where, f"has {len(row)} columns, expected at least 8: {PHYSICELL_V3}")
        rec = {k: v.strip() for k, v in zip(layout, row, strict=False) if not k.startswith("_")}
        rule: dict[str, Any] = {
            "cell_type": rec["cell_type"],
            "signal": rec["signal"],
            "direction": rec["direction"],
            "behaviour": rec["behaviour"],
            "saturation": _number(rec["saturation"], f"{where}.saturation"),
            "half_max": _number(rec["half_max"], f"{where}.half_max"),
            "hill_power": _number(rec["hill_power"], f"{where}.hill_power"),
            "apply_to_dead": rec["apply_to_dead"].lower() in ("1", "true", "yes"),
        }
        if rec.get("source"):
            rule["source"] = rec["source"]
        if rec.get("statement"):
            rule["statement"] = rec["statement"]
        if rule["direction"] not in ("increases", "decreases"):
            raise ModelError(f"{where}.direction", f"{rule['direction']!r} is not allowed; allowed: increases, decreases")
        out.append(rule)
    return out


def read_rules_csv(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise ModelError("rules", f"rules file {str(path)!r} does not exist")
    return parse_rules(path.read_text(), origin=str(path))


def format_rules(rules: Iterable[Any], physicell: bool = False) -> str:
    """Write rules (Rule objects or dicts) as CSV; ``physicell=True`` gives PhysiCell's v3 layout."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if not physicell:
        w.writerow(COLUMNS)
    for r in rules:
        d = r if isinstance(r, dict) else r.model_dump()
        row = [d["cell_type"], d["signal"], d["direction"], d["behaviour"], _fmt(d["saturation"]),
               _fmt(d["half_max"]), _fmt(d["hill_power"]), int(bool(d.get("apply_to_dead")))]
        if not physicell:
            row += [d.get("source") or "", d.get("statement") or ""]
        w.writerow(row)
    return buf.getvalue()


def _fmt(x: Any) -> str:
    return repr(float(x)) if isinstance(x, int | float) else str(x)
