"""The shared web layer answers every failure with problem+json and never a stack trace."""
import marshmallow as ma
import pytest
from flask_smorest import Blueprint
from psycopg import errors as pg
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from rewards_shared.config import Settings
from rewards_shared.db import Database
from rewards_shared.errors import Conflict, Invalid
from rewards_shared.runtime import Runtime
from rewards_shared.web import create_service_app

blp = Blueprint("boom", __name__, url_prefix="/boom")
FAILURES = {
    "race": OperationalError("UPDATE …", {}, pg.DeadlockDetected("deadlock detected")),
    "bug": ProgrammingError("SELECT nonsense", {}, pg.UndefinedTable("no such table")),
    "domain": Conflict("Already linked to another member.", field="card_ref"),
    "crash": ZeroDivisionError("1/0"),
    "range": DataError("INSERT …", {}, pg.NumericValueOutOfRange("integer out of range")),
    "invalid": Invalid("ends_at is in the past.", field="ends_at"),
}


class CountSchema(ma.Schema):
    count = ma.fields.Integer(required=True)


@blp.route("/count", methods=["POST"])
@blp.arguments(CountSchema)
def count(body):
    return body


@blp.route("/<name>")
def fail(name):
    raise FAILURES[name]


@pytest.fixture(scope="module")
def client():
    settings = Settings.from_env("points", {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"})
    app = create_service_app(Runtime(settings, Database(settings.database_url)), title="test", blueprints=[blp])
    return app.test_client()


@blp.route("/echo/<name>", methods=["POST"])
def echo(name):
    return {"name": name}


@pytest.mark.parametrize(("name", "status"), [("race", 503), ("bug", 500), ("domain", 409), ("crash", 500),
                                              ("range", 422)])
def test_failures_become_problems(client, name, status):
    response = client.get(f"/boom/{name}")
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and "Traceback" not in response.get_data(as_text=True)
    if name == "race":
        assert response.headers["Retry-After"] == "1"
    if name == "domain":
        assert body["errors"] == {"card_ref": ["Already linked to another member."]}


def test_every_layer_spells_a_422_the_same_way(client):
    """A domain refusal, a field the schema refuses and a value the database cannot hold: one title."""
    answers = [client.get("/boom/invalid"), client.post("/boom/count", json={"count": "many"}),
               client.get("/boom/range")]
    assert [(a.status_code, a.get_json()["title"]) for a in answers] == [(422, "Unprocessable Content")] * 3
    assert answers[1].get_json()["errors"] == {"count": ["Not a valid integer."]}


def test_unknown_paths_and_methods_are_problems_too(client):
    assert client.get("/nowhere").content_type == "application/problem+json"
    assert client.delete("/boom/race").status_code == 405


def test_a_credential_over_its_rate_gets_told_when_to_come_back():
    from rewards_shared.web import RateLimiter

    limiter = RateLimiter(per_minute=3)
    assert [limiter.retry_after("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.retry_after("a")
    assert 0 < wait <= 20
    assert limiter.retry_after("b") == 0.0, "each credential has its own bucket"


def test_card_references_and_voucher_codes_never_reach_the_logs():
    from flask import Flask

    from rewards_shared.web import loggable_path

    app = Flask("paths")
    app.add_url_rule("/v1/card-links/<operator_id>/<card_ref>", "link", lambda **_: "")
    app.add_url_rule("/v1/pos/vouchers/<code>/redeem", "redeem", lambda **_: "")
    with app.test_request_context("/v1/card-links/leeds-bus/fs-secret-1234"):
        assert loggable_path() == "/v1/card-links/leeds-bus/[card_ref]"
    with app.test_request_context("/v1/pos/vouchers/ABCD-EFGH/redeem"):
        assert loggable_path() == "/v1/pos/vouchers/[code]/redeem"


@pytest.mark.parametrize(("path", "body", "fields"), [
    ("/boom/echo/a%00b", {}, ["name"]),
    ("/boom/echo/ok?limit=1&cursor=x%00", {}, ["cursor"]),
    ("/boom/echo/ok", {"taps": [{"card_ref": "fs"}, {"card_ref": "f\x00s"}], "note": "fine"}, ["taps.1.card_ref"]),
])
def test_the_nul_character_is_refused_naming_where_it_is(client, path, body, fields):
    response = client.post(path, json=body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert sorted(response.get_json()["errors"]) == fields
    assert client.post("/boom/echo/ok", json={"note": "fine"}).status_code == 200


def test_the_document_describes_every_error_as_a_problem(client):
    spec = client.get("/openapi.json").get_json()
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(default) == ["application/problem+json"]
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"} and problem["additionalProperties"] is True
