"""`make bench` at toy sizes: proves every measurement of the pipeline benchmark runs end to end."""
import json

from tests.benchmarks.pipeline import Scale, Target, run


def test_the_pipeline_benchmark_runs(services, stack_env, issue_token):
    target = Target(env=stack_env, urls=services, token=issue_token)
    figures, path = run(target, Scale.smoke(), smoke=True)
    assert figures["raw_kafka"]["consume_per_s"] > 0 and figures["raw_postgres"]["rows_per_s"] > 0
    assert figures["end_to_end"]["feed_status"] == "done"
    assert figures["end_to_end"]["journeys"] > 0 and figures["end_to_end"]["taps_per_s"] > 0
    assert figures["json_push"]["accepted"] == Scale.smoke().taps and figures["json_push"]["journeys"] > 0
    assert figures["tap_to_balance"]["samples"] > 0
    assert figures["redemption"]["request_to_issued"]["count"] == Scale.smoke().redemptions
    written = json.loads(path.read_text())
    assert written["cpus"] and written["date"] and "ratios" in written
