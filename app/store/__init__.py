"""The Store seam and its two implementations."""

from __future__ import annotations

from app.store.base import Change, ChangeHub, Doc, DuplicateKeyError, Store, StoreError
from app.store.tree import And, Compare, IndexSpec, Join, Node, Not, Op, Or, Query

__all__ = [
    "And",
    "Change",
    "ChangeHub",
    "Compare",
    "Doc",
    "DuplicateKeyError",
    "IndexSpec",
    "Join",
    "Node",
    "Not",
    "Op",
    "Or",
    "Query",
    "Store",
    "StoreError",
]
