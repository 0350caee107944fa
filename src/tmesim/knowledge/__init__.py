"""Knowledge of the breast tumor microenvironment: references, claims, citations."""

from .catalog import (
    ImportedRules,
    catalog_tables,
    export_rules,
    filter_rules,
    import_physicell_rules,
    read_physicell_rules,
)
from .citation import citation, model_sources, review_references
from .graph import interaction_graph, write_graph

__all__ = [
    "ImportedRules", "catalog_tables", "citation", "export_rules", "filter_rules", "import_physicell_rules",
    "interaction_graph", "model_sources", "read_physicell_rules", "review_references", "write_graph",
]
