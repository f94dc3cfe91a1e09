from rewards_shared import topics, worker

from .handlers import HANDLERS

SPEC = worker.WorkerSpec(
    service="points",
    topics=[topics.TRANSIT_JOURNEYS, topics.VOLUNTEERING_ATTENDANCES, topics.REDEMPTION_EVENTS, topics.MEMBERS],
    handlers=HANDLERS,
)

if __name__ == "__main__":
    worker.run(SPEC)
