"""Graph encodings: turn any architecture DAG into a feature vector.

``get_encoding("path")`` returns an unfitted scikit-learn style transformer
(``fit(archs, **context)``, ``transform(archs, **context) -> ndarray``);
``"graph_features+zc"`` concatenates encodings; ``list_encodings()`` names the
registered ones; :func:`register_encoding` adds one.
"""

from archscore.encodings.base import Encoding, io_paths, live_paths
from archscore.encodings.concat import ConcatEncoding
from archscore.encodings.registry import ENCODINGS, get_encoding, list_encodings, register_encoding
from archscore.encodings.graph_features import GraphFeaturesEncoding
from archscore.encodings.onehot import OneHotEncoding
from archscore.encodings.path import PathEncoding
from archscore.encodings.zc import ZCEncoding, lookup_scores

__all__ = [
    "ENCODINGS",
    "Encoding",
    "ConcatEncoding",
    "GraphFeaturesEncoding",
    "OneHotEncoding",
    "PathEncoding",
    "ZCEncoding",
    "get_encoding",
    "io_paths",
    "list_encodings",
    "live_paths",
    "lookup_scores",
    "register_encoding",
]
