"""Peer groups: departments and communes are ranked within their province; the grouping is
built once for all units and rebuilt when a unit is registered."""

from __future__ import annotations

from domain.units import UnitRegistry


def test_peers_of_a_commune_are_the_communes_of_its_province_in_order() -> None:
    registry = UnitRegistry()
    commune = next(u for u in registry.of_kind("commune") if u.parent == "22")
    peers = registry.peers(commune.code)
    assert peers == [u for u in registry.of_kind("commune") if u.parent == "22"]
    assert commune in peers


def test_a_department_registered_later_joins_its_province_peer_group() -> None:
    registry = UnitRegistry()
    registry.register("22.SXD", "Sở Xây dựng", "department", "22")
    assert [u.code for u in registry.peers("22.SXD")] == ["22.SXD"]
    registry.register("22.STC", "Sở Tài chính", "department", "22")
    registry.register("01.STC", "Sở Tài chính Hà Nội", "department", "01")
    assert [u.code for u in registry.peers("22.SXD")] == ["22.SXD", "22.STC"]
    assert [u.code for u in registry.peers("01.STC")] == ["01.STC"]
    assert len(registry.peers("22")) == 34
