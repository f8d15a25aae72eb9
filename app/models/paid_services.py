"""The paid services catalogue (SPEC PR-5, AD-6): categories of services the company offers
for a fee, each service with its minimum price. Customers order one through a ``paid_service``
request; the electrician call-out (PR-4) takes its advance price from services with a ``code``."""
from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import relationship

from .workflow import utcnow


class PaidServiceCategory(Model):
    __tablename__ = "paid_service_category"

    id = Column(Integer, primary_key=True)
    name = Column(String(128), nullable=False, unique=True)
    description = Column(Text)
    # Lower first in the app's list; equal ones by name.
    sort_order = Column(Integer, nullable=False, default=0)
    # An inactive category hides all its services from customers (and they cannot be ordered).
    active = Column(Boolean, nullable=False, default=True)
    services = relationship("PaidService", back_populates="category")

    def __repr__(self):
        return self.name


class PaidService(Model):
    __tablename__ = "paid_service"

    id = Column(Integer, primary_key=True)
    category_id = Column(Integer, ForeignKey("paid_service_category.id", ondelete="RESTRICT"), nullable=False,
                         index=True)
    category = relationship("PaidServiceCategory", back_populates="services")
    # Set on services a process looks up by name (``electrician_callout_normal``); else empty.
    code = Column(String(64), unique=True)
    name = Column(String(200), nullable=False)
    description = Column(Text)
    # The price shown in the catalogue ("от 1 500 ₽"); the provider's final price may not be lower.
    min_price = Column(Numeric(12, 2), nullable=False)
    unit = Column(String(32), nullable=False, default="услуга")
    active = Column(Boolean, nullable=False, default=True)
    sort_order = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return self.name
