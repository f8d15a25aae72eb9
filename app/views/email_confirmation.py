"""The public page an email confirmation link opens: GET /confirm-email/<token> (ID-7).

No sign-in: the link, sent to the address, is the proof that its reader holds the mailbox. The
page confirms at once and says so, or says plainly why the link does not work (expired, damaged,
superseded by another address, already used). Russian, like the emails.
"""
from flask import Blueprint, render_template, request

from ..api.client import profile_messages  # noqa: F401  (the refusals' texts)
from ..api.errors import MESSAGES
from ..errors import DomainError
from ..services import email_confirmation

blueprint = Blueprint("email_confirmation", __name__)


@blueprint.route("/confirm-email/<path:token>", methods=["GET"])
def confirm_email(token):
    status, code, email, message = 200, "email_confirmed", None, None
    try:
        email = email_confirmation.confirm(token, ip=request.remote_addr,
                                           user_agent=request.user_agent.string or None).email
    except DomainError as refused:
        status, code = refused.status, refused.code
        message = MESSAGES.get(code, MESSAGES["bad_request"])[0]
    page = render_template("public/confirm_email.html", ok=code in ("email_confirmed", "email_already_confirmed"),
                           email=email, message=message, code=code)
    # The token is in the URL: keep it out of caches and out of other sites' Referer.
    return page, status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
