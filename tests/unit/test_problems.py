from rewards_shared.web import flatten_errors


def test_nested_validation_messages_name_the_field_path():
    messages = {"taps": {3: {"occurred_at": ["Not a valid datetime."]}}, "member_id": ["Missing data."]}
    assert flatten_errors(messages) == {"taps.3.occurred_at": ["Not a valid datetime."],
                                        "member_id": ["Missing data."]}
