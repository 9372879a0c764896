"""The Merkle tree over the global log (RFC 6962 / RFC 9162 §2.1): leaf i is the log-chain
row of position i + 1, and its hash is SHA-256(0x00 ‖ log_hash) with ``log_hash`` hex-decoded.

Kept cheap at insert: the tree's *frontier* (the roots of the complete subtrees along its right
edge, O(log n) of them) grows with each new leaf, and every complete subtree of
``2 ** STORED_LEVEL`` leaves or more is stored once, as ``(level, index, hash)``, when it
completes. Any subtree hash, so any root, inclusion or consistency proof, is then computed from
O(log n) stored nodes plus fewer than ``2 ** STORED_LEVEL`` leaves per proof level, read from
the log's rows: a proof never reads the whole log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

STORED_LEVEL = 4  # subtrees of 16 leaves and more are stored; smaller ones are recomputed
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int, bytes]  # (level, index, hash): the subtree of leaves
#                                [index * 2**level, (index + 1) * 2**level)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def log_leaf(log_hash_hex: str) -> bytes:
    """The leaf hash of one log row: its ``log_hash`` (64 hex digits) as 32 bytes."""
    return leaf_hash(bytes.fromhex(log_hash_hex))


def split_point(size: int) -> int:
    """The largest power of two smaller than ``size`` (≥ 2): where RFC 6962 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


@dataclass
class Frontier:
    """The right edge of a tree of ``size`` leaves: one subtree root per bit set in ``size``,
    largest first."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> list[Node]:
        """Add one leaf hash; return the subtrees this completes (the leaf itself first)."""
        completed: list[Node] = [(0, self.size, leaf)]
        carry, level, index = leaf, 0, self.size
        while (self.size >> level) & 1:
            carry = node_hash(self.hashes.pop(), carry)
            level, index = level + 1, index >> 1
            completed.append((level, index, carry))
        self.hashes.append(carry)
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes], min_level: int = STORED_LEVEL) -> list[Node]:
        """Add leaves; return the completed subtrees of ``min_level`` and above."""
        stored: list[Node] = []
        for leaf in leaves:
            stored.extend(n for n in self.append(leaf) if n[0] >= min_level)
        return stored

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.hashes))


class TreeSource(Protocol):
    """Where a stored tree's hashes come from: its stored nodes and its leaves."""

    def stored_nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of these (level, index) subtrees (missing ones left out)."""
        ...

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of leaves ``start`` … ``end - 1`` (0-based)."""
        ...


class MissingNode(LookupError):
    """A subtree the tree should hold is not stored (the tables were altered or lost)."""


class TreeView:
    """Subtree hashes of a stored tree, read on demand and remembered for one computation."""

    def __init__(self, source: TreeSource, min_level: int = STORED_LEVEL) -> None:
        self.source = source
        self.min_level = min_level
        self._known: dict[tuple[int, int], bytes] = {}

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range aligned as in RFC 6962's recursion."""
        size = end - start
        if size <= 0:
            return EMPTY_ROOT
        level = size.bit_length() - 1
        if size == 1 << level and start % size == 0:
            return self._complete(level, start >> level)
        k = split_point(size)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def _complete(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key in self._known:
            return self._known[key]
        if level >= self.min_level:
            found = self.source.stored_nodes([key]).get(key)
            if found is None:
                raise MissingNode(f"the tree has no stored node at level {level}, "
                                  f"index {index}")
            value = found
        else:
            leaves = self.source.leaf_hashes(index << level, (index + 1) << level)
            if len(leaves) != 1 << level:
                raise MissingNode(f"leaves {index << level}…{((index + 1) << level) - 1} "
                                  "are not all in the log")
            frontier = Frontier()
            frontier.extend(leaves, min_level=99)
            value = frontier.root()
        self._known[key] = value
        return value

    def frontier(self, size: int) -> Frontier:
        """The frontier of the tree's first ``size`` leaves."""
        hashes = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if (size >> level) & 1:
                hashes.append(self.subtree(start, start + (1 << level)))
                start += 1 << level
        return Frontier(size, hashes)

    def root(self, size: int) -> bytes:
        return self.subtree(0, size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(m, D[n]): the audit path of leaf ``index`` in the tree of
        ``size`` leaves, nearest sibling first."""
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
        return self._path(index, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return [*self._path(m, start, start + k), self.subtree(start + k, end)]
        return [*self._path(m - k, start + k, end), self.subtree(start, start + k)]

    def consistency(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(m, D[n]): the consistency proof from the tree of ``old``
        leaves to the tree of ``new`` leaves."""
        if not 0 <= old <= new:
            raise ValueError(f"no consistency proof from size {old} to size {new}")
        if old == 0 or old == new:
            return []
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.subtree(start, end)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self.subtree(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.subtree(start, start + k)]


class ListSource:
    """A tree held in memory as its leaf hashes (tests, and a verifier's own recomputation)."""

    def __init__(self, leaves: list[bytes], min_level: int = STORED_LEVEL) -> None:
        self.leaves = leaves
        self.nodes: dict[tuple[int, int], bytes] = {}
        frontier = Frontier()
        for level, index, value in frontier.extend(leaves, min_level):
            self.nodes[(level, index)] = value

    def stored_nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {k: self.nodes[k] for k in keys if k in self.nodes}

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return self.leaves[start:end]


def root_of(leaves: list[bytes]) -> bytes:
    """The root of a tree given all its leaf hashes (the reference, by the definition)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))

