"""Service-task handlers for tests, loaded through SERVICE_HANDLER_MODULES (also by the
worker processes the tests start)."""
import os
import time

from app.workflows.service_tasks import PermanentFailure, handler


def _count_path(params, context):
    return os.path.join(params["dir"], f"job-{context.job_id}.attempts")


@handler("test_record")
def record(params, context):
    """Appends one line per run to a file, so tests can count how often it really ran."""
    with open(os.path.join(params["dir"], f"job-{context.job_id}.runs"), "a") as out:
        out.write(f"{context.attempt}\n")
    time.sleep(float(params.get("seconds", 0)))
    return {"ran": True, "attempt": context.attempt}


@handler("test_flaky")
def flaky(params, context):
    """Fails until the given attempt number."""
    if context.attempt < int(params["succeed_on"]):
        raise ConnectionError(f"provider unavailable (attempt {context.attempt})")
    return {"attempt": context.attempt}


@handler("test_broken")
def broken(params, context):
    if params.get("permanent"):
        raise PermanentFailure("bad parameters")
    raise RuntimeError("always fails")
