"""JSON pushes stored as sets, through the service layer and the real database: where handling a push
as one set could differ from handling its taps one by one."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from rewards_shared.auth import Principal
from rewards_shared.db import outbox
from rewards_shared.events import decode
from transit_ingest import links, operators, services
from transit_ingest.bootstrap import bootstrap
from transit_ingest.models import Journey, Tap

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)  # tap-ons still wait for their tap-off


@pytest.fixture(scope="module")
def rt(settings_for):
    runtime = bootstrap(settings_for("transit-ingest"))
    yield runtime
    runtime.database.dispose()


@pytest.fixture
def operator(rt) -> str:
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    with rt.database.transaction() as session:
        operators.register(session, id=operator_id, name="Test buses")
    return operator_id


def push(rt, operator_id: str, taps: list) -> services.TapBatchResult:
    return services.push_taps(rt, Principal(f"operator:{operator_id}", "jti"), operator_id, taps)


def link(rt, operator_id: str, card_ref: str, member_id: str) -> None:
    with rt.database.transaction() as session:
        links.link(session, rt.cards, member_id=member_id, operator_id=operator_id, card_ref=card_ref,
                   now=T0 - timedelta(days=1))


def tap(tap_id: str, card_ref: str, minutes: int, kind: str = "on", **more) -> dict:
    return {"tap_id": tap_id, "card_ref": card_ref, "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
            "type": kind, "mode": "bus", "latitude": 53.80 + minutes / 1000, "longitude": -1.55, **more}


def journeys_of(rt, operator_id: str) -> list[Journey]:
    with rt.database.transaction() as session:
        return list(session.execute(sa.select(Journey).where(Journey.operator_id == operator_id)
                                    .order_by(Journey.started_at)).scalars())


def announced(rt, member_id: str) -> list[tuple[str, str]]:
    with rt.database.transaction() as session:
        rows = session.execute(sa.select(outbox.c.payload).where(outbox.c.key == member_id)
                               .order_by(outbox.c.id)).scalars()
        return [(event.type, event.data["journey_id"]) for event in map(decode, rows)]


def stored_taps(rt, operator_id: str) -> dict[str, Tap]:
    with rt.database.transaction() as session:
        return {t.tap_id: t for t in session.execute(sa.select(Tap).where(Tap.operator_id == operator_id)).scalars()}


def test_a_tap_repeated_inside_a_push_and_across_pushes_is_stored_once(rt, operator, member_id):
    card = f"fs-{uuid.uuid4().hex[:10]}"
    link(rt, operator, card, member_id)
    on, off = tap("a-on", card, 0), tap("a-off", card, 20, "off")
    first = push(rt, operator, [on, off, on, dict(off)])
    assert (first.accepted, first.duplicates, first.rejected, first.errors) == (2, 2, 0, [])
    again = push(rt, operator, [off, on])
    assert (again.accepted, again.duplicates, again.replaced) == (0, 2, 0)
    assert sorted(stored_taps(rt, operator)) == ["a-off", "a-on"]
    assert [(j.kind, j.member_id) for j in journeys_of(rt, operator)] == [("paired", member_id)]
    assert [kind for kind, _ in announced(rt, member_id)] == ["transit.journey.completed"]


def test_a_changed_tap_inside_one_push_keeps_its_latest_version(rt, operator, member_id):
    card = f"fs-{uuid.uuid4().hex[:10]}"
    link(rt, operator, card, member_id)
    early = dict(tap("b-on", card, 0), updated_at=T0.isoformat(), stop_id="S-old")
    late = dict(tap("b-on", card, 0), updated_at=(T0 + timedelta(minutes=5)).isoformat(), stop_id="S-new")
    result = push(rt, operator, [late, early, tap("b-off", card, 25, "off")])
    assert (result.accepted, result.duplicates) == (2, 1)
    assert stored_taps(rt, operator)["b-on"].stop_id == "S-new"
    assert [j.origin_stop_id for j in journeys_of(rt, operator)] == ["S-new"]


def test_bad_rows_come_back_by_index_and_field_and_the_good_rows_of_the_set_are_stored(rt, operator, member_id):
    card = f"fs-{uuid.uuid4().hex[:10]}"
    link(rt, operator, card, member_id)
    rows = [tap("c-on", card, 0),
            dict(tap("c-bad-time", card, 5), occurred_at="2026-11-20T07:41:12"),
            "not an object",
            dict(tap("c-bad-mode", card, 6), mode="hovercraft", latitude=91, colour="red"),
            {"card_ref": card, "type": "off", "mode": "bus", "occurred_at": None},
            tap("c-off", card, 30, "off")]
    result = push(rt, operator, rows)
    assert (result.accepted, result.rejected, result.duplicates) == (2, 4, 0)
    assert [(e.index, e.field, e.message) for e in result.errors] == [
        (1, "occurred_at", "Not a valid aware datetime."),
        (2, "_row", "Each tap must be a JSON object."),
        (3, "colour", "Unknown field."),
        (3, "latitude", "Must be greater than or equal to -90 and less than or equal to 90."),
        (3, "mode", "Must be one of: bus, tram, rail, train, ferry, other."),
        (4, "occurred_at", "Field may not be null."),
        (4, "tap_id", "Missing data for required field.")]
    assert sorted(stored_taps(rt, operator)) == ["c-off", "c-on"]
    assert [(j.kind, j.on_tap_id, j.off_tap_id) for j in journeys_of(rt, operator)] == [("paired", "c-on", "c-off")]


def test_an_unknown_card_among_known_ones_gets_a_journey_for_nobody_and_the_others_are_credited(rt, operator):
    members = [f"m-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    cards = [f"fs-{uuid.uuid4().hex[:10]}" for _ in range(4)]
    for member, card in zip(members, cards, strict=False):
        link(rt, operator, card, member)
    rows = [t for n, card in enumerate(cards)
            for t in (tap(f"d{n}-on", card, n), tap(f"d{n}-off", card, n + 20, "off"))]
    assert push(rt, operator, rows).accepted == 8
    found = {j.on_tap_id: j.member_id for j in journeys_of(rt, operator)}
    assert found == {"d0-on": members[0], "d1-on": members[1], "d2-on": members[2], "d3-on": None}
    for n, member in enumerate(members):
        journey = next(j for j in journeys_of(rt, operator) if j.on_tap_id == f"d{n}-on")
        assert announced(rt, member) == [("transit.journey.completed", journey.id)]
    nobodys = next(j for j in journeys_of(rt, operator) if j.on_tap_id == "d3-on")
    with rt.database.transaction() as session:
        told = session.execute(sa.select(sa.func.count()).select_from(outbox).where(
            outbox.c.payload.contains(nobodys.id.encode()))).scalar()
        in_clear = session.execute(sa.text("SELECT count(*) FROM taps t WHERE t.operator_id = :operator"
                                           " AND t::text LIKE :card"), {"operator": operator, "card": "%fs-%"}).scalar()
    assert told == 0 and in_clear == 0


def test_a_card_s_taps_split_across_two_pushes_still_pair(rt, operator, member_id):
    card, other = f"fs-{uuid.uuid4().hex[:10]}", f"fs-{uuid.uuid4().hex[:10]}"
    link(rt, operator, card, member_id)
    first = push(rt, operator, [tap("e1-on", card, 0), tap("e1-off", card, 15, "off"), tap("e2-on", card, 60),
                                tap("x-on", other, 61)])
    assert first.accepted == 4
    assert [(j.kind, j.on_tap_id) for j in journeys_of(rt, operator) if j.member_id] == [("paired", "e1-on")]
    second = push(rt, operator, [tap("x-off", other, 70, "off"), tap("e2-off", card, 80, "off"),
                                 tap("e3-on", card, 120, "single")])
    assert second.accepted == 3
    mine = [(j.kind, j.on_tap_id, j.off_tap_id) for j in journeys_of(rt, operator) if j.member_id == member_id]
    assert mine == [("paired", "e1-on", "e1-off"), ("paired", "e2-on", "e2-off"), ("single", "e3-on", None)]
    assert [kind for kind, _ in announced(rt, member_id)] == ["transit.journey.completed"] * 3
    assert [(j.kind, j.off_tap_id) for j in journeys_of(rt, operator) if j.on_tap_id == "x-on"] == [
        ("paired", "x-off")]
