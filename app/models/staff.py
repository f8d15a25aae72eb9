"""Staff-side additions to Flask-AppBuilder's ``ab_user``: two-factor sign-in."""
from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, String

from .workflow import utcnow


class StaffTwoFactor(Model):
    """TOTP for one staff user. Enrolment is complete once ``confirmed_at`` is set."""

    __tablename__ = "staff_two_factor"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, unique=True)
    # The base32 secret, encrypted with a key derived from SECRET_KEY (Fernet).
    secret_encrypted = Column(String(256), nullable=False)
    confirmed_at = Column(DateTime)
    # The last TOTP time step accepted: a code is good once (no replay inside its window).
    last_step = Column(Integer)
    # Hashes of the unused recovery codes.
    recovery_code_hashes = Column(JSON, nullable=False, default=list)
    created_at = Column(DateTime, nullable=False, default=utcnow)
