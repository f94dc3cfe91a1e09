"""Voucher codes: unguessable, short, forgiving at the till, never stored in clear."""
import math
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from redemption import vouchers
from redemption.catalogue import unavailable_because
from redemption.models import Partner, Reward
from redemption.settlement import Line, Statement

KEY = vouchers.VoucherKey("a-test-key-of-some-length")


def test_a_code_is_sixteen_crockford_characters_carrying_eighty_bits():
    code = KEY.code_for(uuid.uuid4())
    assert len(code) == 16 and set(code) <= set(vouchers.ALPHABET)
    assert len(code) * math.log2(len(vouchers.ALPHABET)) >= 80
    assert not set(code) & set("ILOU")


def test_codes_are_stable_per_redemption_and_differ_between_redemptions_and_keys():
    # Worked out apart from the code under test: RFC 4648 base32 of the HMAC's first 80 bits, in Crockford's letters.
    redemption_id = uuid.UUID("6f1c2a4e-9b3d-4e8a-a1f0-5c7d8e9fa0b1")
    assert KEY.code_for(redemption_id) == "KF1TPF68GMP7P4WB"
    assert len({KEY.code_for(uuid.uuid4()) for _ in range(2000)}) == 2000
    assert vouchers.VoucherKey("another key").code_for(redemption_id) != KEY.code_for(redemption_id)


def test_codes_are_spread_over_the_whole_alphabet():
    seen = "".join(KEY.code_for(uuid.uuid4()) for _ in range(500))
    assert set(seen) == set(vouchers.ALPHABET)


def test_the_code_is_shown_in_groups_of_four_and_read_back_however_the_cashier_types_it():
    code = KEY.code_for(uuid.uuid4())
    shown = vouchers.display(code)
    assert len(shown.split("-")) == 4 and all(len(group) == 4 for group in shown.split("-"))
    assert vouchers.normalise(shown) == code
    assert vouchers.normalise(" " + shown.lower().replace("-", " ") + " ") == code


def test_look_alike_letters_are_read_as_the_digits_they_resemble():
    assert vouchers.normalise("OOOO-IIII-LLLL-0000") == "0000111111110000"


@pytest.mark.parametrize("typed", ["", "ABC", "0000-0000-0000-000U", "0000-0000-0000-0000-0", "ÄÄÄÄ0000000000000"])
def test_anything_else_is_malformed(typed):
    with pytest.raises(vouchers.MalformedCode):
        vouchers.normalise(typed)


def test_only_the_hash_is_stored_and_it_matches_however_the_code_is_typed():
    code = KEY.code_for(uuid.uuid4())
    stored = vouchers.fingerprint(code)
    assert code not in stored and len(stored) == 64
    assert vouchers.fingerprint(vouchers.display(code).lower()) == stored


def test_a_voucher_key_is_required():
    with pytest.raises(ValueError, match="VOUCHER_KEY"):
        vouchers.VoucherKey(None)


def test_the_qr_code_comes_as_png_and_svg():
    code = KEY.code_for(uuid.uuid4())
    assert vouchers.qr_png(code).startswith(b"\x89PNG\r\n\x1a\n")
    svg = vouchers.qr_svg(code).decode()
    assert svg.startswith("<svg") and vouchers.display(code) in svg and svg.rstrip().endswith("</svg>")


def _reward(**terms) -> Reward:
    defaults = dict(id="r", partner_id="p", title="Coffee", cost_points=30, stock=5, active=True,
                    valid_from=None, valid_until=None)
    return Reward(**{**defaults, **terms})


def test_a_reward_is_unavailable_when_withdrawn_outside_its_window_or_out_of_stock():
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    partner = Partner(id="p", name="Café", active=True)
    assert unavailable_because(_reward(), partner, now) is None
    assert unavailable_because(_reward(active=False), partner, now) == "withdrawn"
    assert unavailable_because(_reward(), Partner(id="p", name="Café", active=False), now) == "withdrawn"
    assert unavailable_because(_reward(valid_from=now + timedelta(days=1)), partner, now) == "not_yet_open"
    assert unavailable_because(_reward(valid_until=now), partner, now) == "closed"
    assert unavailable_because(_reward(stock=0), partner, now) == "out_of_stock"


def test_a_settlement_statement_totals_what_the_council_owes_and_its_csv_is_spreadsheet_safe():
    found = Statement("leeds-cafe", date(2026, 11, 1), date(2026, 11, 30), [
        Line("coffee", "=HYPERLINK(\"x\")", "council", 250, 4, 1000),
        Line("cake", "Cake", "partner", 0, 3, 0),
    ])
    assert (found.redeemed, found.owed_pence) == (7, 1000)
    assert found.to_dict()["from"] == "2026-11-01" and found.to_dict()["currency"] == "GBP"
    rows = found.to_csv().splitlines()
    assert rows[0].startswith("partner_id,from,to,reward_id")
    assert "'=HYPERLINK" in rows[1]
    assert rows[-1].endswith("TOTAL,,,,7,1000")
