"""The next tier and the points still to earn for it."""
import pytest

from points import ledger


@pytest.mark.parametrize("lifetime, upcoming", [
    (0, ("silver", 500)), (499, ("silver", 1)), (500, ("gold", 1500)), (4999, ("platinum", 1)), (5000, None),
    (12_000, None),
])
def test_next_tier_counts_what_is_left_to_earn(lifetime, upcoming):
    assert ledger.next_tier(lifetime) == upcoming
    if upcoming:
        assert ledger.tier_for(lifetime + upcoming[1]) == upcoming[0]
