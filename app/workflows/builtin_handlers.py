"""Operations every deployment has."""
from ..services import notifications, service_requests
from .service_tasks import PermanentFailure, handler


@handler("notify_customer", queue="high")
def notify_customer(params, context):
    template = params.get("template")
    if not template:
        raise PermanentFailure("parameter 'template' is required")
    if not params.get("recipient"):
        raise PermanentFailure("parameter 'recipient' is required (the customer has no contact)")
    message = notifications.queue_message(
        idempotency_key=f"job-{context.job_id}",
        channel=params.get("channel", "sms"),
        recipient=params.get("recipient"),
        template=template,
        context=params.get("context") or {},
    )
    return {"message_id": message.id, "status": message.status}


@handler("request.set_status")
def set_request_status(params, context):
    """The process moves its service request (the instance's business key) to ``status``;
    the history row is keyed on the job, so a retried job writes nothing twice."""
    status = params.get("status")
    if status not in service_requests.PROCESS_STATUSES:
        raise PermanentFailure(f"parameter 'status' must be one of {service_requests.PROCESS_STATUSES}")
    try:
        return service_requests.set_status_from_process(context.business_key, status, params.get("note"),
                                                        context.job_id)
    except LookupError as exc:
        raise PermanentFailure(str(exc)) from None
