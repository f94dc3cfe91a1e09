from rewards_shared import topics, worker

from .handlers import HANDLERS
from .jobs import JOBS

SPEC = worker.WorkerSpec(
    service="points",
    topics=[topics.TRANSIT_JOURNEYS, topics.VOLUNTEERING_ATTENDANCES, topics.REDEMPTION_EVENTS, topics.MEMBERS],
    handlers=HANDLERS,
    jobs=JOBS,
)

if __name__ == "__main__":
    worker.run(SPEC)
