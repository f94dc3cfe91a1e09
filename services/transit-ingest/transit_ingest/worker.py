from rewards_shared import worker

SPEC = worker.WorkerSpec(service="transit-ingest", topics=[], handlers={})

if __name__ == "__main__":
    worker.run(SPEC)
