"""Operations every deployment has."""
from ..services import notifications
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
