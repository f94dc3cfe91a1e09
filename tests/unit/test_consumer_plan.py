"""How the consumer loop groups a poll for its handlers: each type in as few calls as possible, every
key's events still in their order."""
from rewards_shared.consumer import Delivery, plan
from rewards_shared.events import Event


def delivery(kind: str, key: str, n: int) -> Delivery:
    return Delivery(Event(type=kind, source="test", subject=key, data={"n": n}), key.encode(), None)


def flatten(rounds) -> list[tuple[str, list[int]]]:
    return [(kind, [d.event.data["n"] for d in group]) for groups in rounds for kind, group in groups]


def order_of(rounds, key: str) -> list[int]:
    return [d.event.data["n"] for groups in rounds for _, group in groups for d in group
            if d.key == key.encode()]


def test_events_of_one_type_from_many_keys_make_one_call():
    polled = [delivery("earned", f"m{n % 3}", n) for n in range(9)]
    assert flatten(plan(polled)) == [("earned", list(range(9)))]


def test_types_interleaved_across_different_keys_still_make_one_call_each():
    polled = [delivery("earned", "a", 1), delivery("held", "b", 2), delivery("earned", "c", 3),
              delivery("held", "d", 4)]
    assert flatten(plan(polled)) == [("earned", [1, 3]), ("held", [2, 4])]


def test_a_key_whose_types_alternate_keeps_its_order():
    polled = [delivery("earned", "a", 1), delivery("held", "a", 2), delivery("earned", "a", 3),
              delivery("earned", "b", 4), delivery("held", "b", 5)]
    rounds = plan(polled)
    assert order_of(rounds, "a") == [1, 2, 3]
    assert order_of(rounds, "b") == [4, 5]
    assert flatten(rounds) == [("earned", [1, 4]), ("held", [2, 5]), ("earned", [3])]


def test_a_later_type_group_in_the_same_round_is_used_when_it_comes_after():
    polled = [delivery("earned", "a", 1), delivery("held", "b", 2), delivery("held", "a", 3)]
    assert flatten(plan(polled)) == [("earned", [1]), ("held", [2, 3])]


def test_events_without_a_key_are_ordered_among_themselves():
    polled = [Delivery(Event(type=kind, source="t", subject=None, data={"n": n}), None, None)
              for n, kind in enumerate(["x", "y", "x"])]
    assert flatten(plan(polled)) == [("x", [0]), ("y", [1]), ("x", [2])]
