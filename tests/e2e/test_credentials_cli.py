"""`rewards credentials issue` gives every credential an expiry; `rewards credentials list` shows it with
when each was last used, as the services noted it in their own databases."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import jwt

from tests.support.api import ServiceClient

SERVICES = ["points"]


def rewards(env: dict, *args: str) -> str:
    command = [os.path.join(os.path.dirname(sys.executable), "rewards"), "credentials", *args]
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=60).stdout


def test_credentials_expire_by_default_and_the_list_shows_expiry_and_last_use(services, stack_env, tmp_path):
    env = {**os.environ, **stack_env, "REWARDS_CREDENTIALS_LOG": str(tmp_path / "credentials.jsonl")}
    support = rewards(env, "issue", "--role", "support").strip()
    member = rewards(env, "issue", "--role", "member", "--subject", "m-cli").strip()
    app = rewards(env, "issue", "--role", "app", "--ttl", "2h").strip()
    lifetimes = {token: (claims := jwt.decode(token, options={"verify_signature": False}))["exp"] - claims["iat"]
                 for token in (support, member, app)}
    assert lifetimes == {support: 90 * 86400, member: 3600, app: 7200}

    assert ServiceClient(services["points"], support).get("/v1/members/nobody/balance").status_code == 404
    header, *rows = rewards(env, "list").splitlines()
    assert header.split() == ["credential", "role", "issued", "expires", "last", "used", "state"]
    listed = {line.split()[0]: line for line in rows}
    jti = {name: jwt.decode(token, options={"verify_signature": False})["jti"]
           for name, token in (("support", support), ("member", member), ("app", app))}
    assert set(jti.values()) <= set(listed)
    used, unused = listed[jti["support"]].split(), listed[jti["member"]].split()
    in_90_days = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    assert used[1] == "support" and in_90_days in used and used[-2:] == ["points", "active"]
    assert unused[1] == "member:m-cli" and "never" in unused and unused[-1] == "active"
