"""Search loops that consume estimators: :func:`random_search`, :func:`regularized_evolution`."""

from archscore.search.loops import SearchResult, random_search, regularized_evolution

__all__ = ["SearchResult", "random_search", "regularized_evolution"]
