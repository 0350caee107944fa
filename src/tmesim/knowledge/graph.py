"""The model's interaction network as a networkx graph, and writing it (GraphML, GEXF, PNG).

Nodes are cell types (``kind="cell_type"``) and signals (``kind="signal"``, with
``signal_kind`` substrate / built-in / state / neighbour state). Edges (``relation``):

* ``secretes``: cell type → substrate, from a positive ``<s> secretion`` or ``<s> export``
  base value (``rate``) or a rule that raises it (``max_rate``);
* ``increases`` / ``decreases``: signal → cell type, one per rule (``behaviour``, ``source``,
  ``statement``, Hill parameters); for ``contact with <type>`` rules the edge runs from the
  touching cell type instead (``contact=True``; ``contact with vessel`` from each vessel type);
* ``transforms_to`` / ``kills``: cell type → cell type, from ``transform to <type>`` /
  ``attack <type>`` base values or rules that raise them.

>>> import tmesim
>>> from tmesim.knowledge import interaction_graph
>>> g = interaction_graph(tmesim.load_model(tmesim.preset_path("tnbc-core")))
>>> g.nodes["CAF"]["kind"], g.nodes["tgfb"]["kind"]
('cell_type', 'signal')
>>> any(d["relation"] == "transforms_to" for d in g.get_edge_data("fibroblast", "CAF").values())
True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tmesim.model import Model, ModelError

from .catalog import signal_info

if TYPE_CHECKING:
    import networkx as nx

GRAPH_FORMATS = (".graphml", ".gexf", ".png")
RELATION_COLORS = {"secretes": "#999999", "increases": "#228833", "decreases": "#EE6677",
                   "transforms_to": "#AA3377", "kills": "#000000"}


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """GraphML/GEXF take str, int, float and bool attributes only."""
    return {k: ("" if v is None else v) for k, v in d.items()}


def interaction_graph(model: Model) -> nx.MultiDiGraph:
    """Cell types and signals as nodes; secretion, rule-response, transformation and killing edges."""
    import networkx as nx

    g = nx.MultiDiGraph(name=model.name)
    types = model.cell_type_names
    vessels = [ct.name for ct in model.cell_types if ct.vessel]

    def signal_node(name: str) -> str:
        node = f"{name} (signal)" if name in types else name
        if node not in g:
            g.add_node(node, **_clean({"kind": "signal", "signal": name, **_signal_attrs(model, name)}))
        return node

    for ct in model.cell_types:
        g.add_node(ct.name, **_clean({"kind": "cell_type", "description": ct.description, "color": ct.color,
                                      "vessel": ct.vessel, "source": ct.source}))
    for s in model.substrate_names:
        signal_node(s)

    # Behaviour-driven edges (secretion, transformation, killing): base value and raising rules.
    targets: dict[tuple[str, str, str, str], dict[str, Any]] = {}  # (cell, target node, relation, behaviour)

    def target(behaviour: str) -> tuple[str, str] | None:
        for s in model.substrate_names:
            if behaviour in (f"{s} secretion", f"{s} export"):
                return signal_node(s), "secretes"
        for t in types:
            if behaviour == f"transform to {t}":
                return t, "transforms_to"
            if behaviour == f"attack {t}":
                return t, "kills"
        return None

    for ct in model.cell_types:
        for beh, p in ct.behaviours.items():
            tgt = target(beh)
            if tgt is not None and p.value > 0:
                targets[(ct.name, *tgt, beh)] = {"rate": float(p.value), "unit": p.unit, "max_rate": float(p.value),
                                                 "source": p.source or "", "n_rules": 0}
    for r in model.rules:
        tgt = target(r.behaviour)
        if tgt is None or r.direction != "increases" or float(r.saturation) <= 0:
            continue
        key = (r.cell_type, *tgt, r.behaviour)
        info = targets.setdefault(key, {"rate": 0.0, "unit": "", "max_rate": 0.0, "source": "", "n_rules": 0})
        info["max_rate"] = max(info["max_rate"], float(r.saturation))
        info["n_rules"] += 1
        if r.source and r.source not in info["source"].split("; "):
            info["source"] = "; ".join(x for x in (info["source"], r.source) if x)
    for (cell, node, relation, beh), info in targets.items():
        g.add_edge(cell, node, relation=relation, behaviour=beh, **info)

    # Rule responses: signal → cell type, or touching cell type → cell type for contact signals.
    for i, r in enumerate(model.rules):
        attrs = _clean({"relation": r.direction, "behaviour": r.behaviour, "signal": r.signal,
                        "saturation": float(r.saturation), "half_max": float(r.half_max),
                        "hill_power": float(r.hill_power), "source": r.source, "statement": r.statement,
                        "rule": i})
        other = r.signal.removeprefix("contact with ")
        if r.signal.startswith("contact with ") and other in types:
            g.add_edge(other, r.cell_type, contact=True, **attrs)
        elif r.signal == "contact with vessel" and vessels:
            for v in vessels:
                g.add_edge(v, r.cell_type, contact=True, **attrs)
        else:
            g.add_edge(signal_node(r.signal), r.cell_type, contact=False, **attrs)
    return g


def _signal_attrs(model: Model, name: str) -> dict[str, Any]:
    info = signal_info(model, name)
    return {"signal_kind": info["kind"], "unit": info["unit"], "description": info["description"],
            "source": info["source"]}


def graph_format(path: str | Path) -> str:
    """The file format for ``path`` by its extension; a clear error for others."""
    ext = Path(path).suffix.lower()
    if ext not in GRAPH_FORMATS:
        raise ModelError("out", f"unknown graph file extension {ext or '(none)'!r} of {str(path)!r}; "
                                f"allowed: {', '.join(GRAPH_FORMATS)}")
    return ext


def write_graph(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    """Write the graph as GraphML, GEXF (both readable by networkx, Gephi, Cytoscape) or a PNG figure."""
    import networkx as nx

    path = Path(path)
    ext = graph_format(path)
    if not path.parent.is_dir():
        raise ModelError("out", f"folder {str(path.parent)!r} does not exist")
    if ext == ".graphml":
        nx.write_graphml(graph, path)
    elif ext == ".gexf":
        nx.write_gexf(graph, path)
    else:
        draw_graph(graph).savefig(path, dpi=150)
    return path


def draw_graph(graph: nx.MultiDiGraph):  # noqa: ANN201 - matplotlib Figure
    """A matplotlib figure of the network (Agg canvas; no pyplot state is touched)."""
    import networkx as nx
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(12, 10))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    simple = nx.Graph()
    simple.add_nodes_from(graph)
    simple.add_edges_from((u, v) for u, v in graph.edges())
    pos = nx.kamada_kawai_layout(simple) if len(simple) > 2 else nx.circular_layout(simple)
    cells = [n for n, d in graph.nodes(data=True) if d.get("kind") == "cell_type"]
    signals = [n for n in graph if n not in cells]
    nx.draw_networkx_nodes(graph, pos, nodelist=cells, ax=ax, node_size=900, edgecolors="#333333",
                           node_color=[graph.nodes[n].get("color") or "#DDDDDD" for n in cells])
    nx.draw_networkx_nodes(graph, pos, nodelist=signals, ax=ax, node_size=500, node_shape="s",
                           node_color="#FFFFFF", edgecolors="#666666")
    seen: set[tuple[str, str, str]] = set()
    for relation, color in RELATION_COLORS.items():
        edges = []
        for u, v, d in graph.edges(data=True):
            if d.get("relation") == relation and (u, v, relation) not in seen:
                seen.add((u, v, relation))
                edges.append((u, v))
        if edges:
            nx.draw_networkx_edges(graph, pos, edgelist=edges, ax=ax, edge_color=color, width=1.5 if relation in
                                   ("transforms_to", "kills") else 0.9, alpha=0.75, arrowsize=10, node_size=900,
                                   connectionstyle="arc3,rad=0.08",
                                   style="dashed" if relation == "secretes" else "solid")
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=7)
    ax.legend(handles=[Line2D([], [], color=c, label=r.replace("_", " ")) for r, c in RELATION_COLORS.items()],
              fontsize=8, frameon=False, loc="lower left")
    ax.set_title(f"Interaction network of model '{graph.graph.get('name', '')}': cell types (circles), signals (squares)")
    ax.axis("off")
    fig.tight_layout()
    return fig
