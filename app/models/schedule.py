"""Once-a-day work (reminders, autopay, e-bills): one row per task and day, so that many
tickers and a manual ``flask kabinet daily`` run each task once."""
from flask_appbuilder import Model
from sqlalchemy import JSON, Column, Date, DateTime, Integer, String, UniqueConstraint

from .workflow import utcnow


class DailyRun(Model):
    __tablename__ = "daily_run"
    __table_args__ = (UniqueConstraint("task", "day", name="uq_daily_run_task_day"),)

    id = Column(Integer, primary_key=True)
    task = Column(String(64), nullable=False)
    day = Column(Date, nullable=False)
    started_at = Column(DateTime, nullable=False, default=utcnow)
    finished_at = Column(DateTime)
    # What the task reported (counts), or the error that stopped it.
    result = Column(JSON)
