import pytest

from rewards_shared import auth


@pytest.fixture(scope="module")
def keys():
    return auth.generate_keypair()


def test_a_token_verifies_with_the_public_key_alone(keys):
    private, public = keys
    token, jti = auth.issue(private, "operator:leeds-bus")
    principal = auth.Verifier(public).verify(token)
    assert (principal.kind, principal.subject, principal.jti) == ("operator", "leeds-bus", jti)
    assert principal.acts_for("operator", "leeds-bus")
    assert not principal.acts_for("operator", "york-bus")


def test_admin_acts_for_everyone(keys):
    private, public = keys
    admin = auth.Verifier(public).verify(auth.issue(private, "admin")[0])
    assert admin.acts_for("partner", "leeds-cafe")


def test_revoked_and_foreign_tokens_are_refused(keys):
    private, public = keys
    token, jti = auth.issue(private, "app")
    with pytest.raises(auth.InvalidCredential, match="revoked"):
        auth.Verifier(public, is_revoked=lambda j: j == jti).verify(token)
    other_private, _ = auth.generate_keypair()
    with pytest.raises(auth.InvalidCredential):
        auth.Verifier(public).verify(auth.issue(other_private, "admin")[0])
    with pytest.raises(auth.InvalidCredential):
        auth.Verifier(public).verify(token[:-4] + "AAAA")


def test_expired_tokens_are_refused(keys):
    private, public = keys
    token, _ = auth.issue(private, "app", ttl_seconds=-10)
    with pytest.raises(auth.InvalidCredential, match="expired"):
        auth.Verifier(public).verify(token)


@pytest.mark.parametrize("role", ["root", "operator", "app:x", "partner:"])
def test_roles_are_checked(role):
    with pytest.raises(ValueError):
        auth.parse_role(role)
