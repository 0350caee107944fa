"""Knowledge of the breast tumor microenvironment: references, claims, citations."""

from .citation import citation, model_sources, review_references

__all__ = ["citation", "model_sources", "review_references"]
