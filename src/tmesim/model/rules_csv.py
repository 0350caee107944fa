"""The rules table on disk: PhysiCell's cell-behaviour rules CSV, plus source and statement.

tmesim writes a header row and two extra columns::

    cell_type,signal,direction,behaviour,saturation,half_max,hill_power,apply_to_dead,source,statement

and reads that, or a PhysiCell file without a header in either of PhysiCell's layouts:
v3 (8 columns: cell type, signal, direction, behavior, saturation value, half-max, Hill
power, applies to dead) or v2 (9 columns, with the base value in column 5, ignored because
the base value belongs to the cell definition), decided row by row. As in PhysiCell, ``//``
lines are comments and a line that is not comma-separated may be tab-separated.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from .errors import ModelError

COLUMNS = ["cell_type", "signal", "direction", "behaviour", "saturation", "half_max",
           "hill_power", "apply_to_dead", "source", "statement"]
PHYSICELL_V3 = COLUMNS[:8]


def _number(text: str, field: str) -> float | str:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        if any(c.isalpha() for c in text):
            return text  # a quantity with units; resolved by the model
        raise ModelError(field, f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ModelError(field, f"must be a finite number, got {text!r}")
    return value


class RuleLine(NamedTuple):
    """One parsed rule with where it came from: file line, layout (tmesim, v3, v2) and v2 base value."""

    line: int
    layout: str
    rule: dict[str, Any]
    base: float | str | None


def _checked(reader: Any, origin: str) -> Iterable[list[str]]:
    """The csv reader's rows, its errors (an overlong field, a stray quote) as one ModelError."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ModelError(f"{origin} line {reader.line_num}", f"not a valid CSV row ({exc})") from None
        yield row


def _rows(text: str, origin: str = "rules") -> list[tuple[int, list[str]]]:
    """(file line, cells) of every row that is not blank or a comment.

    Comments are ``#`` (tmesim) or ``//`` (PhysiCell) lines; like PhysiCell, a line that is not
    comma-separated is tried as tab-separated.
    """
    reader = csv.reader(io.StringIO(text))
    out = []
    for row in _checked(reader, origin):
        line = reader.line_num
        if len(row) == 1 and "\t" in row[0]:
            row = next(csv.reader([row[0]], delimiter="\t"))
        if not row or not any(c.strip() for c in row):
            continue
        first = row[0].lstrip()
        if first.startswith("#") or first.startswith("//"):
            continue
        out.append((line, row))
    return out


def _flag(text: str) -> bool:
    """PhysiCell reads applies-to-dead with atof: any nonzero number is true; also true/yes."""
    text = text.strip().lower()
    if text in ("true", "yes", "t", "y"):
        return True
    try:
        return float(text) != 0.0
    except ValueError:
        return False


def parse_rule_lines(text: str, origin: str = "rules") -> list[RuleLine]:
    """Parse a rules table, keeping each rule's file line, layout and (v2) base value.

    A file with a header row is tmesim's layout; without one, each row is read by its column
    count as PhysiCell v3 (8 columns) or v2 (9, base value in column 5), so a file may mix them.
    """
    rows = _rows(text, origin)
    if not rows:
        return []
    header = [c.strip().lower().replace("behavior", "behaviour") for c in rows[0][1]]
    has_header = "cell_type" in header
    if has_header:
        missing = [c for c in PHYSICELL_V3 if c not in header]
        if missing:
            raise ModelError(origin, f"header lacks columns {missing}; expected {COLUMNS}")
        rows = rows[1:]
    out = []
    for line, row in rows:
        where = f"{origin} line {line}"
        if has_header:
            if len(row) < 8:
                raise ModelError(where, f"has {len(row)} columns, expected at least 8: {PHYSICELL_V3}")
            layout, names = "tmesim", header
        elif len(row) == 8:
            layout, names = "v3", PHYSICELL_V3
        elif len(row) == 9:
            layout, names = "v2", [*PHYSICELL_V3[:4], "_base", *PHYSICELL_V3[4:]]
        else:
            raise ModelError(where, f"has {len(row)} columns; PhysiCell rules have 8 (v3: {', '.join(PHYSICELL_V3)}) "
                                    f"or 9 (v2: base value after behaviour); tmesim's have a header {COLUMNS}")
        rec = {k: v.strip() for k, v in zip(names, row, strict=False)}
        rule: dict[str, Any] = {
            "cell_type": rec["cell_type"],
            "signal": rec["signal"],
            "direction": rec["direction"],
            "behaviour": rec["behaviour"],
            "saturation": _number(rec["saturation"], f"{where}.saturation"),
            "half_max": _number(rec["half_max"], f"{where}.half_max"),
            "hill_power": _number(rec["hill_power"], f"{where}.hill_power"),
            "apply_to_dead": _flag(rec["apply_to_dead"]),
        }
        if rec.get("source"):
            rule["source"] = rec["source"]
        if rec.get("statement"):
            rule["statement"] = rec["statement"]
        if rule["direction"] not in ("increases", "decreases"):
            raise ModelError(f"{where}.direction", f"{rule['direction']!r} is not allowed; allowed: increases, decreases")
        base = _number(rec["_base"], f"{where}.base_value") if "_base" in rec else None
        out.append(RuleLine(line, layout, rule, base))
    return out


def parse_rules(text: str, origin: str = "rules") -> list[dict[str, Any]]:
    """Parse a rules table (tmesim with header, or PhysiCell v3/v2) into rule dicts."""
    return [r.rule for r in parse_rule_lines(text, origin)]


def read_rules_csv(path: str | Path) -> list[dict[str, Any]]:
    from .safe_yaml import read_text

    path = Path(path)
    if not path.exists():
        raise ModelError("rules", f"rules file {str(path)!r} does not exist")
    return parse_rules(read_text(path, "rules file"), origin=str(path))


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
    """Shortest text that reads back as the same float (``8`` not ``8.0``), so files round-trip exactly."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)
