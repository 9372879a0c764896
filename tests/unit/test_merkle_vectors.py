"""The Merkle tree and the standalone verifier against the RFC 6962 test vectors (the
certificate-transparency and transparency-dev/merkle reference data)."""

from __future__ import annotations

import pytest

from ledger.merkle import EMPTY_ROOT, Frontier, ListSource, TreeView, leaf_hash, root_of
from ledger.proofcheck import ProofError, verify_consistency, verify_inclusion

LEAVES = [bytes.fromhex(x) for x in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
HASHED = [leaf_hash(x) for x in LEAVES]


def view(size: int) -> TreeView:
    return TreeView(ListSource(HASHED[:size], min_level=1), min_level=1)


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_reference_for_every_size(size: int) -> None:
    frontier = Frontier()
    frontier.extend(HASHED[:size])
    assert frontier.root().hex() == ROOTS[size - 1]
    assert root_of(HASHED[:size]).hex() == ROOTS[size - 1]
    assert view(8).root(size).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, path: list[str]) -> None:
    proof = view(8).inclusion(index, size)
    assert [p.hex() for p in proof] == path
    verify_inclusion(HASHED[index], index, size, proof, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, path: list[str]) -> None:
    proof = view(8).consistency(old, new)
    assert [p.hex() for p in proof] == path
    verify_consistency(old, new, proof, bytes.fromhex(ROOTS[old - 1]),
                       bytes.fromhex(ROOTS[new - 1]))


def test_a_proof_against_the_wrong_root_or_index_is_refused() -> None:
    index, size, path = INCLUSION[-1]
    proof = [bytes.fromhex(p) for p in path]
    root = bytes.fromhex(ROOTS[size - 1])
    for bad_index in (index - 1, index + 1, index ^ 2):
        with pytest.raises(ProofError):
            verify_inclusion(HASHED[index], bad_index, size, proof, root)
    for bad_size in (size * 2, size // 2):
        with pytest.raises(ProofError):
            verify_inclusion(HASHED[index], index, bad_size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(HASHED[index], index, size, [*proof, root], root)
    with pytest.raises(ProofError):
        verify_inclusion(HASHED[index], index, size, proof[:-1], root)
    with pytest.raises(ProofError, match="not an extension"):
        verify_consistency(6, 8, view(8).consistency(6, 8), bytes.fromhex(ROOTS[4]),
                           bytes.fromhex(ROOTS[7]))


def test_the_standalone_root_of_a_bundle_matches_the_vectors_and_the_ledger_tree() -> None:
    from ledger.proofcheck import tree_root

    for size in range(1, len(LEAVES) + 1):
        assert tree_root([leaf_hash(x) for x in LEAVES[:size]]).hex() == ROOTS[size - 1]
    for size in (0, 1, 2, 3, 15, 16, 17, 100, 257):
        leaves = [leaf_hash(size.to_bytes(4, "big") + i.to_bytes(4, "big")) for i in range(size)]
        assert tree_root(leaves) == (root_of(leaves) if leaves else EMPTY_ROOT)
