"""Search loops that consume estimators."""
