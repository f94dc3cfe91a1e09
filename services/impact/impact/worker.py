from rewards_shared import worker

from .bootstrap import bootstrap, worker_spec


def main() -> None:
    rt = bootstrap()
    worker.run(worker_spec(rt), rt)


if __name__ == "__main__":
    main()
