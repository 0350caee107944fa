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
from .claims import claims_markdown, filter_claims, review_claims, status_counts
from .graph import interaction_graph, write_graph

__all__ = [
    "ImportedRules", "catalog_tables", "citation", "claims_markdown", "export_rules", "filter_claims", "filter_rules",
    "import_physicell_rules", "interaction_graph", "model_sources", "read_physicell_rules", "review_claims",
    "review_references", "status_counts", "write_graph",
]
