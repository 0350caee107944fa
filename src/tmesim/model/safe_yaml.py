"""Reading YAML that users hand us: size, encoding and alias limits, one clear error each.

PyYAML's ``safe_load`` builds no objects but still expands nothing lazily: an "alias bomb"
(a few lines whose anchors refer to each other nine levels deep) is a small file whose
tree has billions of leaves once anything walks it, and walking it (validation, JSON)
takes minutes and gigabytes. PyYAML has no limit of its own, so this module counts, after
composing and before constructing, how many nodes the document expands to (each alias
counted with the size of what it points to) and refuses documents past a limit. Hand-written
because no maintained library offers a bounded safe loader for PyYAML's node graph.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from .errors import ModelError

MAX_BYTES = 16 * 2**20  # model, trial and therapy files are a few kB to a few hundred kB
MAX_NODES = 1_000_000  # scalars + collections after expanding aliases


_Safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~10x faster where built


class _BoundedLoader(_Safe):  # type: ignore[misc, valid-type]
    """A safe loader that refuses documents expanding to more than MAX_NODES nodes."""

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return node


def _expanded_size(node: yaml.Node, memo: dict[int, int], stack: set[int]) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in stack:
        raise _TooBig("an alias refers to a node that contains it (a recursive YAML structure)")
    stack.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, stack)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, stack) + _expanded_size(v, memo, stack)
    stack.discard(key)
    if size > MAX_NODES:
        raise _TooBig(f"aliases expand to more than {MAX_NODES:,} values (an alias bomb?)")
    memo[key] = size
    return size


class _TooBig(Exception):
    pass


def decode_text(raw: bytes, where: str) -> str:
    """UTF-8 (with or without a byte-order mark) or one error naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ModelError(where, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                                "save the file as UTF-8") from None


def read_text(path: str | Path, what: str = "file", max_bytes: int = MAX_BYTES) -> str:
    """A user's text file: it must exist, be a regular file, fit ``max_bytes`` and be UTF-8."""
    p = Path(path)
    where = str(p)
    if not p.exists():
        raise ModelError(where, f"{what} does not exist")
    if p.is_dir():
        raise ModelError(where, f"is a folder; give a {what}")
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise ModelError(where, f"is {size:,} bytes; a {what} may be at most {max_bytes:,} bytes")
        with p.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise ModelError(where, f"cannot read the {what} ({exc.strerror or exc})") from None
    if len(raw) > max_bytes:  # a device or a file that grew while read
        raise ModelError(where, f"a {what} may be at most {max_bytes:,} bytes")
    return decode_text(raw, where)


def load_yaml_text(text: str, where: str) -> Any:
    """Parse YAML text with the limits above; errors name ``where`` and the line."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except _TooBig as exc:
        raise ModelError(where, f"invalid YAML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ModelError(where, f"invalid YAML{at}: {problem}") from None
    except (RecursionError, OverflowError, ValueError) as exc:  # deep nesting, odd timestamps
        raise ModelError(where, f"invalid YAML: {type(exc).__name__}: {exc}") from None


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """Read and parse a YAML file a user gave (see ``read_text`` and ``load_yaml_text``)."""
    return load_yaml_text(read_text(path, what), str(path))


def first_non_finite(data: Any, path: str = "") -> tuple[str, float] | None:
    """(dotted field path, value) of the first inf/NaN number in parsed YAML, or None.

    Names use the entries' ``name`` where present, like the model's other errors."""
    if isinstance(data, float):
        return None if math.isfinite(data) else (path, data)
    if isinstance(data, dict):
        for k, v in data.items():
            hit = first_non_finite(v, f"{path}.{k}" if path else str(k))
            if hit:
                return hit
    elif isinstance(data, list):
        for i, v in enumerate(data):
            label = v.get("name") if isinstance(v, dict) and isinstance(v.get("name"), str) else i
            hit = first_non_finite(v, f"{path}[{label}]")
            if hit:
                return hit
    return None


def check_finite(data: Any, path: str = "") -> None:
    """Refuse inf and NaN anywhere in a parsed model/trial file, naming the field."""
    hit = first_non_finite(data, path)
    if hit is not None:
        raise ModelError(hit[0], f"must be a finite number, got {hit[1]}")
