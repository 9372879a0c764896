"""Properties of the Merkle tree: any size, any stored level, every proof verifies with the
standalone verifier, and a frontier rebuilt from storage is the one grown leaf by leaf."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import Frontier, ListSource, TreeView, leaf_hash, root_of
from ledger.proofcheck import verify_consistency, verify_inclusion


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 140), st.integers(0, 5), st.data())
def test_every_leaf_proves_inclusion_in_every_later_tree(n: int, min_level: int,
                                                         data: st.DataObject) -> None:
    hashed = leaves(n)
    tree = TreeView(ListSource(hashed, min_level), min_level)
    sizes = data.draw(st.lists(st.integers(1, n), min_size=1, max_size=4))
    for size in sizes:
        root = root_of(hashed[:size])
        assert tree.root(size) == root
        for index in range(size):
            verify_inclusion(hashed[index], index, size, tree.inclusion(index, size), root)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 140), st.integers(0, 5), st.data())
def test_any_two_trees_are_consistent(n: int, min_level: int, data: st.DataObject) -> None:
    hashed = leaves(n)
    tree = TreeView(ListSource(hashed, min_level), min_level)
    new = data.draw(st.integers(1, n))
    for old in range(0, new + 1):
        verify_consistency(old, new, tree.consistency(old, new), root_of(hashed[:old]),
                           root_of(hashed[:new]))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(0, 6))
def test_a_frontier_read_back_from_storage_is_the_one_grown(n: int, min_level: int) -> None:
    hashed = leaves(n)
    grown = Frontier()
    grown.extend(hashed)
    stored = TreeView(ListSource(hashed, min_level), min_level).frontier(n)
    assert stored == grown
    assert grown.root() == root_of(hashed)
