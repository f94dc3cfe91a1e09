"""The webhook signature: HMAC-SHA256 over `timestamp.body`, Stripe-style header, checked as the README says."""
import hashlib
import hmac

from notifications.channels.webhook import sign, verify

SECRET = "whsec_test_only"
BODY = b'{"kind":"voucher_issued","member_id":"m-1"}'


def test_the_header_carries_the_timestamp_and_the_hex_hmac_of_timestamp_dot_body():
    header = sign(SECRET, 1764067200, BODY)
    expected = hmac.new(SECRET.encode(), b"1764067200." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1764067200,v1={expected}"


def test_a_receiver_accepts_a_fresh_signature_and_refuses_tampering_age_and_the_wrong_secret():
    header = sign(SECRET, 1764067200, BODY)
    assert verify(SECRET, header, BODY, now=1764067200 + 10)
    assert not verify(SECRET, header, BODY + b" ", now=1764067200 + 10)
    assert not verify(SECRET, header, BODY, now=1764067200 + 301)
    assert not verify("another secret", header, BODY, now=1764067200)
    assert not verify(SECRET, "v1=abc", BODY, now=1764067200)
    assert not verify(SECRET, "t=soon," + header.split(",")[1], BODY, now=1764067200)


def test_during_secret_rotation_any_listed_signature_may_match():
    old = sign("old secret", 1764067200, BODY).split(",")[1]
    assert verify(SECRET, sign(SECRET, 1764067200, BODY) + "," + old, BODY, now=1764067200)
