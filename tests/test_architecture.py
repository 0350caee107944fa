"""The layout of ``src/tmesim`` (see DESIGN.md): imports point one way, no import cycles,
short modules, no build artefacts in git.

The import graph is read from the source with ``ast`` (nothing is imported), counting
imports inside functions too (a lazy import is still a dependency) but not those under
``if TYPE_CHECKING:`` (never executed).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tmesim"

# The floors of DESIGN.md: what each top-level part of the package may import.
GROUND = {"errors", "units", "_version", "_resources", "_numba_cache"}  # _numba_cache: imports no tmesim module
ENGINES = {"engine", "meanfield"}  # the mean-field engine is an engine
BELOW_BODY = GROUND | {"model", "presets"} | ENGINES | {"therapy"}
ALLOWED: dict[str, set[str]] = {
    **{g: set() for g in GROUND},
    "model": GROUND,
    "presets": GROUND,  # shipped data; model reads it through importlib.resources, not imports
    "data": set(),  # shipped data only
    "knowledge": GROUND | {"model"},
    "engine": GROUND | {"model"},
    "meanfield": GROUND | {"model"},
    "therapy": GROUND | {"model"},
    "io": GROUND | {"model", "presets"},  # presets: shipped models as data (results manifests hash them)
    "body": BELOW_BODY,
    "assay": BELOW_BODY,  # laboratory assays drive an engine like the body does
    "cohort": BELOW_BODY | {"knowledge", "io", "body", "assay"},
    "readouts": GROUND | {"model", "presets", "knowledge", "io"},
    "viz": GROUND | {"model", "presets", "knowledge", "io", "readouts"},
    # calibration and sensitivity drive cohorts and sections: above cohort, below the api
    "inference": BELOW_BODY | {"knowledge", "io", "body", "assay", "cohort", "readouts", "viz"},
}
LIBRARY = set(ALLOWED)
ALLOWED["api"] = LIBRARY
ALLOWED["tmesim"] = LIBRARY | {"api"}  # the curated public namespace (package __init__)
ALLOWED["cli"] = LIBRARY | {"api"}
ALLOWED["__main__"] = {"cli"}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = list(p.relative_to(SRC.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):  # noqa: ANN202
    """Import nodes, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> nx.DiGraph:
    """Module → module it imports, for every module of ``src/tmesim``."""
    mods = _modules()
    g = nx.DiGraph()
    for name, (path, is_pkg) in mods.items():
        g.add_node(name)
        pkg = name if is_pkg else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                subs = [f"{mod}.{a.name}" for a in node.names]
                targets = [s for s in subs if s in mods] or [mod]
            for t in targets:
                while t and t not in mods:  # ``import tmesim.x.y`` of a name: its module
                    t = t.rpartition(".")[0]
                if t and t != name and t.split(".")[0] == "tmesim":
                    g.add_edge(name, t)
    return g


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else "tmesim"


def test_every_part_has_a_floor() -> None:
    parts = {_part(m) for m in _modules()}
    assert parts <= set(ALLOWED), f"add {sorted(parts - set(ALLOWED))} to ALLOWED (and DESIGN.md)"


def test_no_import_cycles() -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_imports_point_down_the_floors() -> None:
    wrong = [f"{a} -> {b}" for a, b in import_graph().edges
             if _part(a) != _part(b) and _part(b) not in ALLOWED[_part(a)]]
    assert not wrong, "imports against the layer order of DESIGN.md:\n" + "\n".join(sorted(wrong))


def test_nothing_imports_the_package_root() -> None:
    """Submodules import what they need from its module, never through ``tmesim/__init__``."""
    wrong = [a for a, b in import_graph().edges if b == "tmesim"]
    assert not wrong, f"modules importing the package root: {sorted(wrong)}"


LONG_MODULE_REASON = "Long module:"


def test_long_modules_say_why() -> None:
    """A module over ~400 lines states, in its docstring, why it is not split."""
    long = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        if text.count("\n") > 400:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if LONG_MODULE_REASON not in doc:
                long.append(f"{path.relative_to(SRC)} ({text.count(chr(10))} lines)")
    assert not long, f"split these or give a '{LONG_MODULE_REASON} <why>' line in the docstring: {long}"


ARTEFACTS = (".egg-info/", "__pycache__/", ".pyc", ".nbi", ".nbc")


def test_no_build_artefacts_tracked() -> None:
    root = SRC.parents[1]
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    res = subprocess.run([git, "-C", str(root), "ls-files"], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"git ls-files failed: {res.stderr.strip()}")
    tracked = [f for f in res.stdout.splitlines() if any(a in f or f.endswith(a) for a in ARTEFACTS)]
    assert not tracked, f"build artefacts tracked by git (git rm --cached them): {tracked[:10]}"


# (module, string): why this catalog cell-type name may appear there as a string.
NAME_ALLOWED = {
    ("io/physicell_settings.py", "cancer"): "a keyword that guesses the role of an imported PhysiCell type, or that role",
    ("io/physicell_settings.py", "macrophage"): "a keyword that guesses the role of an imported PhysiCell type, or that role",
    ("io/physicell_settings.py", "monocyte"): "a keyword that guesses the role of an imported PhysiCell type, or that role",
    ("io/physicell_settings.py", "neutrophil"): "a keyword that guesses the role of an imported PhysiCell type, or that role",
    ("io/physicell_settings.py", "fibroblast"): "a keyword that guesses the role of an imported PhysiCell type, or that role",
    ("io/physicell_settings.py", "endothelial"): "a keyword that guesses the role of an imported PhysiCell type, or that role",
    ("io/physicell_settings.py", "adipocyte"): "a keyword that guesses the role of an imported PhysiCell type, or that role",
    ("readouts/architecture.py", "endothelial"): "a tissue compartment (tumor, immune, stroma, endothelial)",
    ("readouts/tissue.py", "endothelial"): "a tissue compartment (tumor, immune, stroma, endothelial)",
    ("model/body.py", "bone"): "an organ (bone, lung, liver, brain), not the bone-matrix cell type",
    ("body/organotropism.py", "bone"): "an organ of the organotropism table",
    ("cohort/organotropism.py", "bone"): "an organ (bone-only metastasis share), not the bone-matrix cell type",
    ("viz/figures.py", "bone"): "an organ's colour in the body figure",
    ("assay/spheroid.py", "macrophage"): "the spheroid assay's --macrophage co-culture option (named after the role)",
    ("cli/assay.py", "macrophage"): "the spheroid assay's --macrophage co-culture option (named after the role)",
}


def _catalog_names() -> set[str]:
    import yaml

    names: set[str] = set()
    for p in (SRC / "presets").rglob("*.yaml"):
        data = yaml.safe_load(p.read_text()) or {}
        names |= {ct["name"] for ct in data.get("cell_types") or [] if isinstance(ct, dict) and "name" in ct}
    return names


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_no_catalog_cell_type_names_in_code() -> None:
    """Code finds cells by role (tmesim.model.roles), never by a preset's cell-type name."""
    names = _catalog_names()
    assert {"cancer", "CD8_T_cell", "Treg"} <= names  # the scan reads the presets
    found = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("presets/") or rel == "model/roles.py":  # the vocabulary itself
            continue
        tree = ast.parse(path.read_text())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
                    and id(node) not in docs and (rel, node.value) not in NAME_ALLOWED):
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert not found, "catalog cell-type names in code (use roles, or allow with a reason):\n" + "\n".join(found)
