from rewards_shared import topics, worker

from .handlers import HANDLERS
from .jobs import jobs


def spec() -> worker.WorkerSpec:
    return worker.WorkerSpec(service="redemption", topics=[topics.LEDGER_EVENTS], handlers=HANDLERS, jobs=jobs())


if __name__ == "__main__":
    worker.run(spec())
