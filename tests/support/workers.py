"""Real ``python worker.py`` processes for integration tests, and small polling helpers.

A :class:`WorkerPool` starts workers against one database and one Redis key prefix with the
same engine settings the test's app uses, waits until each has registered with RQ, and kills
every one it started (by its own pid) when the test ends.
"""
import json
import os
import signal
import subprocess
import sys
import time

from rq import Worker

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Settings that must not leak from the developer's shell into a worker under test.
_SCRUB = ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "JOBS_BACKEND", "START_TICKER", "PROCESS_DEADLINES",
          "SERVICE_TASK_LEASE_SECONDS", "SERVICE_TASK_MAX_ATTEMPTS", "SERVICE_TASK_BACKOFF_SECONDS",
          "SERVICE_TASK_REQUEUE_SECONDS", "SERVICE_HANDLER_MODULES", "TICK_SECONDS")


def env_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def wait_for(predicate, timeout, interval=0.05, message="condition not met"):
    """Poll ``predicate`` until it returns something truthy; that value is returned.

    ``message`` may be a callable, called only on failure (to describe the state then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message() if callable(message) else message} within {timeout} s")
        time.sleep(interval)


class WorkerProcess:
    def __init__(self, pool, name, env, args):
        self.pool = pool
        self.name = name
        self.log_path = os.path.join(pool.log_dir, f"worker-{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "worker.py"), *args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        self._log.flush()
        with open(self.log_path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=30):
        """Until RQ knows this process as a worker on our queues (the ticker starts before)."""

        def registered():
            if not self.alive():
                raise AssertionError(f"worker {self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            workers = Worker.all(connection=self.pool.redis, queue=self.pool.queue("default"))
            return any(w.pid == self.pid for w in workers)

        wait_for(registered, timeout, interval=0.1, message=f"worker {self.name} did not register")
        return self

    def kill(self, sig=signal.SIGKILL):
        """Kill abruptly, as a crashed machine would: no warm shutdown, no cleanup."""
        if self.alive():
            os.kill(self.pid, sig)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.alive():
            self.proc.terminate()  # RQ's warm shutdown: finishes the current job, then exits
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


class WorkerPool:
    """Workers for one app: same database, Redis prefix and engine settings."""

    def __init__(self, database_url, redis_url, prefix, log_dir, settings=None):
        import redis

        self.database_url = database_url
        self.redis_url = redis_url
        self.prefix = prefix
        self.log_dir = log_dir
        self.settings = dict(settings or {})
        self.redis = redis.Redis.from_url(redis_url)
        self.workers = []

    def queue(self, name):
        from rq import Queue

        return Queue(f"{self.prefix}:{name}", connection=self.redis)

    def env(self, **overrides):
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        env.update({
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.prefix,
            "SERVICE_HANDLER_MODULES": "tests.support.handlers",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
        })
        for key, value in {**self.settings, **overrides}.items():
            env[key] = env_value(value)
        return env

    def start(self, name=None, args=(), wait=True, **overrides):
        """Start ``python worker.py``; ``overrides`` are extra environment settings."""
        worker = WorkerProcess(self, name or str(len(self.workers) + 1), self.env(**overrides), list(args))
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def cleanup_redis(self):
        """Drop what RQ keeps outside our key prefix: job hashes (a killed worker leaves its
        job in the started registry for good), the queues' entries in ``rq:queues`` and the
        registrations of our workers. Call after the workers are stopped."""
        ours = {worker.pid for worker in self.workers}
        for name in ("high", "default", "bulk"):
            queue = self.queue(name)
            for worker in Worker.all(connection=self.redis, queue=queue):
                if worker.pid in ours:
                    worker.register_death()
            job_ids = set(queue.get_job_ids())
            for registry in (queue.started_job_registry, queue.finished_job_registry, queue.failed_job_registry,
                             queue.deferred_job_registry, queue.scheduled_job_registry, queue.canceled_job_registry):
                job_ids.update(registry.get_job_ids())
            for job_id in job_ids:
                self.redis.delete(f"rq:job:{job_id}", f"rq:executions:{job_id}",
                                  *self.redis.scan_iter(f"rq:execution:{job_id}:*"))
            queue.delete(delete_jobs=True)

    def stop_all(self):
        errors = []
        for worker in self.workers:
            try:
                worker.stop()
            except Exception as exc:  # keep going: every process must be ended
                errors.append(exc)
                if worker.alive():
                    worker.proc.kill()
        try:
            self.cleanup_redis()
        except Exception as exc:
            errors.append(exc)
        self.workers = []
        if errors:
            raise errors[0]
