"""Staff two-factor sign-in screens (SPEC ID-10); the rules are in ``services/staff_two_factor``.

* :class:`KabinetAuthDBView` replaces FAB's ``AuthDBView`` (``authdbview`` of the security
  manager): after a correct password an enrolled user is not signed in yet; the user id waits
  in the Flask session (signed, ``STAFF_2FA_PENDING_SECONDS``) for ``/two-factor/verify``. A
  user whose role requires 2FA and who has not enrolled is sent to ``/two-factor/enrol``
  (QR code + first code) and is signed in only once enrolled.
* :class:`TwoFactorView` (``/two-factor/``): every staff user's own page: enrol, status, new
  recovery codes, turn off where optional.
* An enrolment key is bound to the browser session it was shown in (its fingerprint waits in
  the session): a reload there shows the same QR code; any other session (a second sign-in with
  the same password, say) gets a new key, which makes the earlier one useless.
* :class:`TwoFactorAdminView` (``/two-factor/staff/``): Admin resets someone's second factor.
* :func:`enforce_enrolment`: a signed-in session whose user must have 2FA and has none (an Admin
  reset it, or the requirement came later) gets no page but enrolment.
"""
import time

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.security.decorators import has_access, no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_login import current_user, login_user

from ..api.errors import error_response
from ..api.staff import two_factor_messages  # noqa: F401  (registers the error codes)
from ..errors import DomainError, TooManyRequests
from ..services import staff_two_factor as two_factor
from .common import csrf_ok, csrf_protected, flash_domain_error

PENDING = "staff_2fa_pending"
ENROLMENT = "staff_2fa_enrolment"


# --- the sign-in waiting for its second step (Flask session) ----------------------------------

def _start_pending(user, step, next_url):
    seconds = current_app.config.get("STAFF_2FA_ENROL_SECONDS" if step == "enrol" else "STAFF_2FA_PENDING_SECONDS",
                                     900 if step == "enrol" else 300)
    session[PENDING] = {"uid": user.id, "step": step, "next": next_url, "until": time.time() + seconds}


def _pending(step):
    """``(user, next_url)`` of the sign-in waiting for ``step``, else None (with a message)."""
    data = session.get(PENDING)
    if not isinstance(data, dict) or data.get("step") != step:
        flash("Сначала введите логин и пароль.", "warning")
        return None
    if data.get("until", 0) < time.time():
        session.pop(PENDING, None)
        flash("Время на второй шаг входа истекло: войдите заново.", "warning")
        return None
    user = current_app.appbuilder.sm.get_user_by_id(data.get("uid"))
    if user is None or not user.is_active:
        session.pop(PENDING, None)
        flash("Войдите заново.", "warning")
        return None
    return user, get_safe_redirect(data.get("next") or "")


def _finish_sign_in(user, next_url):
    session.pop(PENDING, None)
    login_user(user, remember=False)
    return redirect(next_url)


def _refusal(exc):
    """Flash a refused code; the HTTP status and headers for the page shown again."""
    flash_domain_error(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else {}
    return exc.status, headers


# --- the enrolment key shown in this browser session ---------------------------------------------

def _shown_key(user):
    """The fingerprint of the enrolment key this session was shown for ``user``; "" when none
    (which matches no key: nothing to show again, and a confirmation is refused as stale)."""
    data = session.get(ENROLMENT)
    if isinstance(data, dict) and data.get("uid") == user.id and isinstance(data.get("key"), str):
        return data["key"]
    return ""


def _show_key(user, fresh=False):
    """The secret to show: the one this session was shown (a reload shows the same QR code), or,
    with ``fresh`` or when the pending key was made for another session, a new one."""
    record, secret = two_factor.begin_enrolment(user, keep=None if fresh else _shown_key(user))
    session[ENROLMENT] = {"uid": user.id, "key": two_factor.fingerprint(record)}
    return secret


def _enrolment_context(user, secret):
    uri = two_factor.provisioning_uri(user, secret)
    return {"qr_svg": two_factor.qr_svg(uri), "secret": two_factor.grouped_secret(secret), "otpauth_uri": uri,
            "issuer": current_app.config.get("STAFF_2FA_ISSUER", "Kabinet")}


class KabinetAuthDBView(AuthDBView):
    """FAB's login form, then the second step for users with (or required to have) 2FA."""

    default_view = "login"

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if form.validate_on_submit():
            session.pop(PENDING, None)
            session.pop(ENROLMENT, None)
            next_url = get_safe_redirect(request.args.get("next", ""))
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            if not user:
                flash(as_unicode(self.invalid_login_message), "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            if two_factor.is_enrolled(user):
                _start_pending(user, "verify", next_url)
                return redirect(url_for(".verify"))
            if two_factor.is_required(user):
                # every password sign-in gets a key of its own: a key made for an earlier sign-in
                # (someone else's with the same password, perhaps) stops working now
                _show_key(user, fresh=True)
                _start_pending(user, "enrol", next_url)
                return redirect(url_for(".enrol"))
            login_user(user, remember=False)
            return redirect(next_url)
        return self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)

    @expose("/two-factor/verify", methods=["GET", "POST"])
    @no_cache
    def verify(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_index)
        pending = _pending("verify")
        if pending is None:
            return redirect(self.appbuilder.get_url_for_login)
        user, next_url = pending
        status, headers = 200, {}
        if request.method == "POST":
            if not csrf_ok():
                return redirect(url_for(".verify"))
            try:
                used = two_factor.verify_any(user, request.form.get("code"))
            except DomainError as exc:
                if exc.code == "two_factor_not_enrolled":  # reset by an Admin meanwhile
                    session.pop(PENDING, None)
                    return redirect(self.appbuilder.get_url_for_login)
                status, headers = _refusal(exc)
            else:
                if used == "recovery_code":
                    left = two_factor.status(user)["recovery_codes_left"]
                    flash(f"Вход по резервному коду. Осталось резервных кодов: {left}. "
                          "Создайте новые на странице «Безопасность → Двухфакторный вход».", "warning")
                return _finish_sign_in(user, next_url)
        return self.render_template("two_factor/verify.html", appbuilder=self.appbuilder, username=user.username), \
            status, headers

    @expose("/two-factor/enrol", methods=["GET", "POST"])
    @no_cache
    def enrol(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_index)
        pending = _pending("enrol")
        if pending is None:
            return redirect(self.appbuilder.get_url_for_login)
        user, next_url = pending
        if two_factor.is_enrolled(user):  # enrolled in another tab: the code step is next
            _start_pending(user, "verify", next_url)
            return redirect(url_for(".verify"))
        status, headers = 200, {}
        if request.method == "POST":
            if not csrf_ok():
                return redirect(url_for(".enrol"))
            if request.form.get("action") == "restart":
                _show_key(user, fresh=True)
                flash("Создан новый ключ: отсканируйте новый QR-код.", "info")
                return redirect(url_for(".enrol"))
            try:
                codes = two_factor.confirm_enrolment(user, request.form.get("code"), key=_shown_key(user))
            except DomainError as exc:
                status, headers = _refusal(exc)
            else:
                session.pop(PENDING, None)
                session.pop(ENROLMENT, None)
                login_user(user, remember=False)
                flash("Двухфакторный вход подключён.", "success")
                return self.render_template("two_factor/codes.html", appbuilder=self.appbuilder, codes=codes,
                                            continue_url=next_url)
        secret = _show_key(user)
        return self.render_template("two_factor/enrol.html", appbuilder=self.appbuilder, username=user.username,
                                    **_enrolment_context(user, secret)), status, headers


class TwoFactorView(BaseView):
    """The signed-in user's own second factor."""

    route_base = "/two-factor"
    default_view = "index"
    class_permission_name = "TwoFactorView"
    method_permission_name = {"index": "read", "begin": "write", "restart": "write", "cancel": "write",
                              "confirm": "write", "recovery_codes": "write", "disable": "write"}

    @expose("/")
    @has_access
    @no_cache
    def index(self):
        state = two_factor.status(g.user)
        enrolment = None
        if not state["enrolled"] and (state["pending"] or state["required"]):
            enrolment = _enrolment_context(g.user, _show_key(g.user))
        return self.render_template("two_factor/index.html", state=state, enrolment=enrolment)

    @expose("/begin", methods=["POST"])
    @has_access
    @csrf_protected
    def begin(self):
        return self._act(lambda: _show_key(g.user, fresh=True))

    @expose("/restart", methods=["POST"])
    @has_access
    @csrf_protected
    def restart(self):
        return self._act(lambda: _show_key(g.user, fresh=True), "Создан новый ключ: отсканируйте новый QR-код.")

    @expose("/cancel", methods=["POST"])
    @has_access
    @csrf_protected
    def cancel(self):
        return self._act(lambda: two_factor.cancel_pending(g.user), "Подключение отменено.")

    @expose("/confirm", methods=["POST"])
    @has_access
    @csrf_protected
    @no_cache
    def confirm(self):
        return self._codes(lambda: two_factor.confirm_enrolment(g.user, request.form.get("code"),
                                                                key=_shown_key(g.user)),
                           "Двухфакторный вход подключён.")

    @expose("/recovery-codes", methods=["POST"])
    @has_access
    @csrf_protected
    @no_cache
    def recovery_codes(self):
        return self._codes(lambda: two_factor.regenerate_recovery_codes(g.user, request.form.get("code")),
                           "Созданы новые резервные коды; прежние больше не действуют.")

    @expose("/disable", methods=["POST"])
    @has_access
    @csrf_protected
    def disable(self):
        return self._act(lambda: two_factor.disable(g.user, request.form.get("code")),
                         "Двухфакторный вход отключён.")

    def _act(self, action, done=None):
        try:
            action()
        except DomainError as exc:
            flash_domain_error(exc)
        else:
            if done:
                flash(done, "success")
        return redirect(url_for(".index"))

    def _codes(self, action, done):
        try:
            codes = action()
        except DomainError as exc:
            flash_domain_error(exc)
            return redirect(url_for(".index"))
        flash(done, "success")
        return self.render_template("two_factor/codes.html", codes=codes, continue_url=url_for(".index"))


class TwoFactorAdminView(BaseView):
    """Admin: who has a second factor, and reset it for someone who lost the phone."""

    route_base = "/two-factor/staff"
    default_view = "list"
    class_permission_name = "TwoFactorAdminView"
    method_permission_name = {"list": "read", "reset": "write"}

    @expose("/")
    @has_access
    def list(self):
        users = sorted(self.appbuilder.sm.get_all_users(), key=lambda user: user.username)
        rows = [(user, two_factor.status(user)) for user in users]
        return self.render_template("two_factor/staff.html", rows=rows, me=g.user.id)

    @expose("/reset/<int:user_id>", methods=["POST"])
    @has_access
    @csrf_protected
    def reset(self, user_id):
        target = self.appbuilder.sm.get_user_by_id(user_id)
        if target is None:
            flash("Сотрудник не найден.", "danger")
            return redirect(url_for(".list"))
        try:
            two_factor.admin_reset(g.user, target)
        except DomainError as exc:
            flash_domain_error(exc)
        else:
            flash(f"Двухфакторный вход сотрудника {target.username} сброшен.", "success")
        return redirect(url_for(".list"))


# --- a signed-in session that must enrol first -------------------------------------------------

_OPEN_ENDPOINTS = {"static", "appbuilder.static"}


def enforce_enrolment():
    """before_request: a signed-in user whose role requires 2FA and who has none gets only the
    enrolment page (and sign-out). JWT requests carry no session and are checked at login."""
    if not two_factor.required_roles():
        return None
    endpoint = request.endpoint or ""
    auth_endpoint = current_app.appbuilder.sm.auth_view.endpoint
    if (endpoint in _OPEN_ENDPOINTS or endpoint.startswith("TwoFactorView.")
            or endpoint in (f"{auth_endpoint}.logout", f"{auth_endpoint}.login")):
        return None
    if not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    if not two_factor.is_required(user) or two_factor.is_enrolled(user):
        return None
    if request.path.startswith("/api/"):
        return error_response(403, "two_factor_enrolment_required")
    flash("Для вашей роли обязателен двухфакторный вход: подключите его, чтобы продолжить.", "warning")
    return redirect(url_for("TwoFactorView.index"))


def register_two_factor_views(appbuilder):
    appbuilder.add_view(TwoFactorView, "TwoFactorView", label="Двухфакторный вход", icon="fa-mobile",
                        category="Security")
    appbuilder.add_view(TwoFactorAdminView, "TwoFactorAdminView", label="Двухфакторный вход сотрудников",
                        icon="fa-shield", category="Security")
    current_app.before_request(enforce_enrolment)
