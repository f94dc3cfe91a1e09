"""Codes and ids already issued must keep their meaning: fixed inputs, fixed outputs.

A voucher in a member's app, a card reference hashed in the database, the check-in code on an
organiser's screen, a transfer id the ledger deduplicates on and a journey id points were earned for
are all derived, not stored in clear; a change to how they are derived would orphan every one issued.
These values were computed once from the code and are pinned as literals. If one of these tests fails,
the change breaks codes in circulation: undo it, or give the new derivation a new version alongside the
old one. Never update a literal here to make the test pass.

The keys are in the form operators deploy them (`os.urandom(32).hex()`, from a file with a newline).
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from points.ledger import transfer_id
from points.volunteering import check_in_link, code_matches, code_secret, current_code
from redemption.vouchers import VoucherKey, display, fingerprint, normalise
from transit_ingest.cards import CardHasher
from transit_ingest.journeys import journey_id

VOUCHER_KEY = "3f9a1c7e5b2d4f6081a3c5e7f9b1d3f5a7c9e1b3d5f7091b2d4f6a8c0e2a4c6e"
CARD_HMAC_KEY = "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"
VOLUNTEERING_CODE_KEY = "5d2e8a1f4b7c0e3a6d9f2b5e8c1a4d7f0b3e6a9c2f5d8b1e4a7c0f3d6b9e2a5c"


# --- voucher codes (redemption) ---------------------------------------------------------------------

VOUCHERS = [  # redemption id, code as shown, what the database stores
    ("3b6c0f0e-2a4d-4e8f-9b1c-5d7e9f0a1b2c", "YZSS-75R6-225C-51WZ",
     "560175de436000c0abf34a15b3cb36bde425a69398d4aa48b05ebcbc0b3f242d"),
    ("c8d4e2f0-6a7b-4c9d-8e1f-0a2b3c4d5e6f", "EYT8-DTE7-T90P-PSX8",
     "1483b25548ff356360799ac3c4625abf8b1c04af0537d59ff1cf63b0c1fb386b"),
    ("00000000-0000-0000-0000-000000000000", "QBJT-67D2-C8J9-N1M2",
     "a52b15f88597b9fbc5e478b555ff1008bda7b0feb9f5df72eb4c32400c6798ab"),
]


@pytest.mark.parametrize("redemption_id, shown, stored", VOUCHERS)
def test_a_redemption_keeps_its_voucher_code(redemption_id, shown, stored):
    code = VoucherKey(VOUCHER_KEY).code_for(uuid.UUID(redemption_id))
    assert display(code) == shown
    assert code == shown.replace("-", "")
    assert VoucherKey(VOUCHER_KEY + "\n").code_for(uuid.UUID(redemption_id)) == code


@pytest.mark.parametrize("redemption_id, shown, stored", VOUCHERS)
def test_a_voucher_code_is_found_by_the_hash_stored_for_it_however_it_is_typed(redemption_id, shown, stored):
    assert fingerprint(shown) == stored
    assert fingerprint(shown.lower().replace("-", " ")) == stored


@pytest.mark.parametrize("typed, code", [
    ("YZSS-75R6-225C-51WZ", "YZSS75R6225C51WZ"),
    (" yzss 75r6 225c 51wz ", "YZSS75R6225C51WZ"),
    ("OOOO-IIII-LLLL-0000", "0000111111110000"),
    ("qbjt67d2c8j9nlm2", "QBJT67D2C8J9N1M2"),
])
def test_what_a_cashier_types_reads_as_the_same_code(typed, code):
    assert normalise(typed) == code


def test_the_stored_hash_is_sha256_of_the_canonical_code():
    assert fingerprint("0000-0000-0000-0000") == "fcdb4b423f4e5283afa249d762ef6aef150e91fccd810d43e5e719d14512dec7"


# --- card references (transit-ingest) ---------------------------------------------------------------

@pytest.mark.parametrize("operator_id, card_ref, card_hash", [
    ("leeds-bus", "4111111111111111", "931905ca5239b23c32d5890b112bf98bb726135d2a8f8b3b05952da2ac41e9a5"),
    ("northern", "PAN-TOKEN-7f3a9c", "b0d411d142b7963b684db9c7ae5ce6ca1e5814aa41cfb4895f8866f928c9be04"),
    ("west-yorkshire-tram", "card ref with spaces",
     "404f67cea34df8dc54a1db6ac3e78f6890e053a00203b4a47a55cae8a1ac9393"),
])
def test_a_card_reference_keeps_its_hash(operator_id, card_ref, card_hash):
    assert CardHasher(CARD_HMAC_KEY)(operator_id, card_ref).hex() == card_hash
    assert CardHasher(CARD_HMAC_KEY + "\n")(operator_id, card_ref).hex() == card_hash
    assert CardHasher(bytes.fromhex(CARD_HMAC_KEY))(operator_id, card_ref).hex() == card_hash


# --- volunteering check-in codes (points) -----------------------------------------------------------

@pytest.mark.parametrize("opportunity_id, secret", [
    ("opp-roundhay-litter-pick", "1b06955796f19dd289cc855118eb97fd09e70f68cc6654a17f638b1d1b2f9d37"),
    ("3f2e1d0c-9b8a-4765-8432-10fedcba9876", "a07d10a9fd53bc160fc4c4ae9356cd34f92868ff5684424b7ba47a82c1bf1e19"),
])
def test_an_opportunity_keeps_its_code_secret(opportunity_id, secret):
    assert code_secret(VOLUNTEERING_CODE_KEY, opportunity_id).hex() == secret
    assert code_secret(VOLUNTEERING_CODE_KEY + "\n", opportunity_id).hex() == secret


@pytest.mark.parametrize("at, code, valid_from, valid_until", [
    ("2026-03-01T09:00:00+00:00", "555608", "2026-03-01T09:00:00+00:00", "2026-03-01T09:00:30+00:00"),
    ("2026-03-01T09:00:47+00:00", "293877", "2026-03-01T09:00:30+00:00", "2026-03-01T09:01:00+00:00"),
    ("2026-03-01T09:01:00+00:00", "207467", "2026-03-01T09:01:00+00:00", "2026-03-01T09:01:30+00:00"),
    ("2030-12-31T23:59:59+00:00", "013282", "2030-12-31T23:59:30+00:00", "2031-01-01T00:00:00+00:00"),
])
def test_the_check_in_code_shown_at_a_time_is_fixed(at, code, valid_from, valid_until):
    secret = code_secret(VOLUNTEERING_CODE_KEY, "opp-roundhay-litter-pick")
    shown = current_code(secret, datetime.fromisoformat(at))
    assert (shown.code, shown.valid_from.isoformat(), shown.valid_until.isoformat()) == (code, valid_from,
                                                                                         valid_until)
    assert code_matches(secret, code, datetime.fromisoformat(at))


def test_a_scan_near_a_rollover_still_matches_the_code_shown():
    secret = code_secret(VOLUNTEERING_CODE_KEY, "opp-roundhay-litter-pick")
    assert code_matches(secret, "555608", datetime(2026, 3, 1, 9, 0, 47, tzinfo=UTC))
    assert not code_matches(secret, "555608", datetime(2026, 3, 1, 9, 1, 0, tzinfo=UTC))


def test_the_organisers_qr_code_holds_a_fixed_link():
    assert check_in_link("opp-roundhay-litter-pick", "293877") == (
        "smartleedsrewards://checkin?opportunity_id=opp-roundhay-litter-pick&code=293877")


# --- ledger transfer ids (points) -------------------------------------------------------------------

JOURNEY = "bfc55d60-bce0-5cc1-83f1-2c839997fd6f"
REDEMPTION = "3b6c0f0e-2a4d-4e8f-9b1c-5d7e9f0a1b2c"
HOLD = "a06241f8-3ba1-5672-8045-f006cf0e6765"


@pytest.mark.parametrize("parts, expected", [
    (("earn", f"journey:{JOURNEY}:r1"), "ebca7636-0fd6-5b26-87d8-e4575467a024"),
    (("earn", f"journey:{JOURNEY}:r2"), "85e87b98-4235-5b20-b72d-940b1dc3da10"),
    (("reverse", f"journey:{JOURNEY}:r1"), "52602a1f-ee8c-5c1d-8ce3-9d73369969de"),
    (("pending", "attendance:a-0001"), "a682827b-1009-5bdc-a91f-57f9fdc5ffb9"),
    (("pending-cleared", "attendance:a-0001"), "a1befa1d-d86d-50b7-99cd-e884c26f6b86"),
    (("earn", "attendance:a-0001"), "fdee897d-ec4a-5363-a996-2060c28e5691"),
    (("hold", REDEMPTION), HOLD),
    (("hold", uuid.UUID(REDEMPTION)), HOLD),
    (("capture", uuid.UUID(HOLD)), "a5dd3ac6-65ad-5090-8bff-b571f8ba0b5e"),
    (("release", uuid.UUID(HOLD)), "8e391671-da99-533d-ab3c-f8ca9c528edf"),
    (("expire", 42, 150), "ffed757f-506d-56b3-9ffa-b3365d64a3ce"),
    (("adjust", "fix-2026-03-01"), "a0fb63c4-0065-5fd1-9aeb-3b01a4e0607c"),
    (("donate", "donation-0001"), "85fbe8f8-a599-50e3-8c8e-d18dc0720803"),
    (("erase", "m-0001"), "0961ab37-1a58-5df5-9919-d5df317fba72"),
])
def test_a_cause_keeps_its_transfer_id(parts, expected):
    assert transfer_id(*parts) == uuid.UUID(expected)


# --- journey ids (transit-ingest) -------------------------------------------------------------------

@pytest.mark.parametrize("operator_id, on_tap_id, expected", [
    ("leeds-bus", "tap-0001", JOURNEY),
    ("northern", "LP-2025-10-24-000123", "3197ae48-a516-5c64-98d3-95acefac6b18"),
    ("tides-operator", "7c1e", "45ff0cd4-3680-5643-b07b-6f2f46c8bb34"),
])
def test_a_tap_on_keeps_its_journey_id(operator_id, on_tap_id, expected):
    assert journey_id(operator_id, on_tap_id) == expected
