"""Worker entry point: runs service-task jobs from RQ and the ticker (timers, retries, leases).

    python worker.py                 # queues high, default, bulk; ticker on
    python worker.py --burst         # drain the queues and exit (no ticker)
    python worker.py --queues high   # only the urgent queue

Any number of workers may run on any number of machines: jobs are claimed atomically in the
database and the ticker's sweeps lock rows with SKIP LOCKED.
"""
import argparse
import logging

from rq import SimpleWorker

from app import create_app
from app.extensions import redis_connection
from app.workflows import jobs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", default=",".join(jobs.QUEUES), help="comma-separated, most urgent first")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--no-ticker", action="store_true", help="leave timers and retries to other workers")
    args = parser.parse_args(argv)

    app = create_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("worker.py needs REDIS_URL; without it jobs run inside the web process")
    with app.app_context():
        if not (args.burst or args.no_ticker):
            jobs.start_ticker(app)
        connection = redis_connection(app)
        queues = [jobs.rq_queue(app, name.strip()) for name in args.queues.split(",") if name.strip()]
        # SimpleWorker runs jobs in this process: forking per job cost ~4x throughput here
        # (docs/PERFORMANCE.md); a job that crashes the process is taken back by its lease.
        worker = SimpleWorker(queues, connection=connection)
        logging.getLogger(__name__).info("worker on %s", [q.name for q in queues])
        worker.work(burst=args.burst, with_scheduler=False, logging_level="WARNING")


if __name__ == "__main__":
    main()
