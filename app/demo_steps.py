"""Steps the demo loaders share. DEMO ONLY."""
from sqlalchemy import select

from .extensions import db
from .models.workflow import ServiceJob
from .workflows import jobs
from .workflows.service_runner import run_job


def settle(instance_id):
    """Run the instance's queued service jobs here, round after round (a status change may queue
    a document, which queues a notice), so the demo loads the same with or without a worker; a
    job's claim is atomic, so none runs twice."""
    for _round in range(20):
        queued = db.session.execute(
            select(ServiceJob.id).where(ServiceJob.instance_id == instance_id, ServiceJob.status == "queued")
        ).scalars().all()
        if not queued:
            break
        for job_id in queued:
            run_job(job_id)
    jobs.wait_for_jobs(instance_id)


def settle_request(req):
    settle(req.process_instance_id)
    db.session.refresh(req)
