"""Operations every deployment has."""
from ..errors import DomainError
from ..services import notifications, request_documents, service_requests
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


@handler("request.issue_document")
def issue_document(params, context):
    """A PDF (``title``, ``lines`` as ``[[label, value], …]``, optional ``note`` and
    ``filename``) attached to the instance's request for the customer to download."""
    try:
        return request_documents.issue(context.business_key, params.get("title"), params.get("lines") or [],
                                       params.get("filename"), context.job_id, note=params.get("note"))
    except (LookupError, ValueError) as exc:
        raise PermanentFailure(str(exc)) from None


@handler("request.issue_invoice")
def issue_invoice(params, context):
    """An invoice (``amount``, ``description``) to the request's customer, paid like a bill; the
    result's ``invoice`` number is what the ``payment_confirmed`` message correlates on."""
    try:
        return service_requests.issue_invoice(context.business_key, params.get("amount"), params.get("description"),
                                              context.instance_id)
    except LookupError as exc:
        raise PermanentFailure(str(exc)) from None
    except DomainError as exc:
        raise PermanentFailure(f"{exc.code}: {exc.fields or exc.params}") from None
