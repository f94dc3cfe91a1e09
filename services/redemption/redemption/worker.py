from rewards_shared import topics, worker

from .handlers import HANDLERS

SPEC = worker.WorkerSpec(service="redemption", topics=[topics.LEDGER_EVENTS], handlers=HANDLERS)

if __name__ == "__main__":
    worker.run(SPEC)
