"""Small numbers: primary suppression below k, and secondary suppression so totals cannot reveal a hidden cell."""
from impact.report.suppression import Cell, Margin, suppress

K = 10


def cells(**members):
    found = {("total",): Cell(("total",), sum(members.values()), {"value": sum(members.values())})}
    for name, count in members.items():
        found[("part", name)] = Cell(("part", name), count, {"value": count})
    return found


def margin(found):
    return [Margin(("total",), tuple(p for p in found if p[0] == "part"))]


def hidden(found):
    return {c.name for c in found.values() if c.hidden}


def test_cells_of_k_or_more_and_empty_cells_are_published():
    found = cells(bus=10, tram=25, ferry=0)
    assert suppress(found, margin(found), K) == []


def test_a_cell_below_k_is_hidden_and_the_smallest_other_cell_with_it():
    found = cells(bus=40, tram=3, rail=12, ferry=0)
    listed = suppress(found, margin(found), K)
    assert hidden(found) == {"part.tram", "part.rail"}
    reasons = {entry["cell"]: entry["reason"] for entry in listed}
    assert reasons["part.tram"] == "fewer than 10 members"
    assert reasons["part.rail"].startswith("secondary: would reveal part.tram")


def test_two_hidden_cells_need_no_third():
    found = cells(bus=40, tram=3, rail=4)
    suppress(found, margin(found), K)
    assert hidden(found) == {"part.tram", "part.rail"}


def test_when_no_other_cell_can_protect_it_the_total_is_hidden():
    found = cells(bus=3, ferry=0)
    found[("total",)].members = 12  # members counted distinctly can exceed a lone part
    suppress(found, margin(found), K)
    assert hidden(found) == {"part.bus", "total"}


def test_hiding_a_total_protects_cells_of_a_margin_it_belongs_to():
    found = {
        ("all",): Cell(("all",), 60, {"value": 60}),
        ("a",): Cell(("a",), 30, {"value": 30}),
        ("b",): Cell(("b",), 30, {"value": 30}),
        ("b", "x"): Cell(("b", "x"), 4, {"value": 4}),
        ("b", "y"): Cell(("b", "y"), 0, {"value": 0}),
    }
    margins = [Margin(("all",), (("a",), ("b",))), Margin(("b",), (("b", "x"), ("b", "y")))]
    suppress(found, margins, K)
    # b.x is hidden; b.y is empty so b itself is hidden; then a must go too, or all − a reveals b.
    assert hidden(found) == {"b.x", "b", "a"}


def test_no_published_total_minus_published_parts_equals_a_hidden_part():
    found = cells(a=50, b=9, c=11, d=30, e=2)
    suppress(found, margin(found), K)
    published = [c for p, c in found.items() if p[0] == "part" and not c.hidden]
    hidden_parts = [c for p, c in found.items() if p[0] == "part" and c.hidden]
    assert len(hidden_parts) >= 2
    remainder = found[("total",)].values["value"] - sum(c.values["value"] for c in published)
    assert all(remainder != c.values["value"] for c in hidden_parts)
