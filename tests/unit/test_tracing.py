"""W3C trace context: continued from a traceparent, carried into outbox rows and log lines."""
import json
import logging

from rewards_shared import logs, tracing

FIRST = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SECOND = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def trace_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def test_a_span_continues_its_parent_and_log_lines_carry_its_ids():
    formatter = logs.JsonFormatter("test")
    with tracing.span("work", parent=FIRST):
        line = json.loads(formatter.format(logging.LogRecord("t", logging.INFO, __file__, 1, "hello", (), None)))
        carried = tracing.traceparent_for_outbox(caused_by=None, key=None)
    assert line["trace_id"] == trace_of(FIRST) and len(line["span_id"]) == 16
    assert trace_of(carried) == trace_of(FIRST) and carried.split("-")[2] == line["span_id"]


def test_without_a_parent_a_new_trace_starts_and_outside_any_span_each_row_gets_its_own():
    with tracing.span("job"):
        inside = tracing.traceparent_for_outbox(caused_by=None, key=None)
    assert trace_of(inside) not in (trace_of(FIRST), "0" * 32)
    outside = {trace_of(tracing.traceparent_for_outbox(caused_by=None, key=None)) for _ in range(3)}
    assert len(outside) == 3
    assert logs.JsonFormatter("t").format(logging.LogRecord("t", 20, __file__, 1, "x", (), None)).count("trace_id") == 0


def test_inside_a_batch_each_row_continues_the_trace_of_its_cause():
    causes = [("event-1", "member-a", FIRST), ("event-2", "member-b", SECOND), ("event-3", "member-c", None)]
    with tracing.batch_span("handle points.earned", causes):
        by_event = tracing.traceparent_for_outbox(caused_by="event-2", key="member-a")
        by_key = tracing.traceparent_for_outbox(caused_by=None, key="member-a")
        unknown = tracing.traceparent_for_outbox(caused_by=None, key="member-c")
    assert by_event == SECOND and by_key == FIRST
    assert trace_of(unknown) not in (trace_of(FIRST), trace_of(SECOND))


def test_a_malformed_traceparent_starts_a_new_trace():
    with tracing.span("work", parent="00-not-a-trace"):
        carried = tracing.current_traceparent()
    assert carried and trace_of(carried) != "not"


def test_kafka_headers_give_their_traceparent():
    assert tracing.traceparent_in([("other", b"x"), ("traceparent", FIRST.encode())]) == FIRST
    assert tracing.traceparent_in(None) is None
