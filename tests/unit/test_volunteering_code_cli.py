"""`rewards volunteering code --at` takes only a moment it can place: a time with its offset."""
import pytest
from click.testing import CliRunner

from points.cli import volunteering


@pytest.mark.parametrize(("moment", "says"), [("2026-12-01T10:00:00", "needs an offset"),
                                              ("yesterday", "is not an ISO 8601 time")])
def test_a_moment_without_an_offset_or_not_a_time_is_refused_before_anything_is_read(moment, says):
    result = CliRunner().invoke(volunteering, ["code", "opp-1", "--at", moment])
    assert result.exit_code == 2 and says in result.output
