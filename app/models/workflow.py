"""Tables of the engine gateway: definitions, instances and the rows derived after every run."""
from datetime import datetime, timezone

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import deferred, relationship


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ProcessDefinition(Model):
    """One deployed version of a process; the parsed spec is serialised once, here."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id = Column(Integer, primary_key=True)
    key = Column(String(128), nullable=False, index=True)
    version = Column(Integer, nullable=False)
    name = Column(String(256), nullable=False)
    # Deferred: every instance lock joins its definition, which needs only the checksum (the
    # spec is cached per process) and the forms.
    bpmn_xml = deferred(Column(Text, nullable=False))
    dmn_xml = deferred(Column(JSON, nullable=False, default=list))
    forms = Column(JSON, nullable=False, default=dict)
    checksum = Column(String(64), nullable=False)
    spec_json = deferred(Column(Text, nullable=False))
    # Names of message start events, so an incoming message can start new instances.
    message_starts = Column(JSON, nullable=False, default=list)
    deployed_by = Column(String(128))
    deployed_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self):
        return f"{self.key} v{self.version}"


class ProcessInstance(Model):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_next_timer", "next_timer_at"),
        Index("ix_process_instance_key_status", "process_key", "status"),
    )

    id = Column(Integer, primary_key=True)
    definition_id = Column(Integer, ForeignKey("process_definition.id"), nullable=False)
    definition = relationship(ProcessDefinition, lazy="joined")
    process_key = Column(String(128), nullable=False)
    business_key = Column(String(128), index=True)
    subject_type = Column(String(64))
    subject_id = Column(String(64))
    # running | waiting | completed | error | cancelled | suspended
    status = Column(String(16), nullable=False, default="running")
    state = Column(Text)
    # "|a|b|": names of the activities the instance stands at, for the LIKE filter.
    current_activities = Column(Text, nullable=False, default="")
    next_timer_at = Column(DateTime)
    error = Column(Text)
    started_by = Column(String(128))
    lock_version = Column(Integer, nullable=False, default=1)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    completed_at = Column(DateTime)

    __mapper_args__ = {"version_id_col": lock_version}

    def __repr__(self):
        return f"#{self.id} {self.process_key} ({self.status})"


class HumanTask(Model):
    """A user task waiting for a person; the inbox reads only this table."""

    __tablename__ = "human_task"
    # The inbox reads ordered ranges of open staff tasks by role, by assignee and (admins) all;
    # partial indexes keep completed history out of them.
    __table_args__ = (
        Index("ix_human_task_role_queue", "candidate_role", "due_at", "id",
              postgresql_where=text("status = 'open' AND NOT for_customer"),
              sqlite_where=text("status = 'open' AND NOT for_customer")),
        Index("ix_human_task_assignee_queue", "assignee", "due_at", "id",
              postgresql_where=text("status = 'open' AND NOT for_customer"),
              sqlite_where=text("status = 'open' AND NOT for_customer")),
        Index("ix_human_task_open_queue", "due_at", "id",
              postgresql_where=text("status = 'open' AND NOT for_customer"),
              sqlite_where=text("status = 'open' AND NOT for_customer")),
    )

    id = Column(Integer, primary_key=True)
    instance_id = Column(Integer, ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False, index=True)
    instance = relationship(ProcessInstance)
    process_key = Column(String(128), nullable=False)
    task_guid = Column(String(36), nullable=False, unique=True)
    name = Column(String(128), nullable=False)
    title = Column(String(256), nullable=False)
    lane = Column(String(128))
    candidate_role = Column(String(64))
    # A task in the customer's lane is shown by the client API, not the staff inbox.
    for_customer = Column(Boolean, nullable=False, default=False)
    assignee = Column(String(128))
    form_schema = Column(JSON)
    due_at = Column(DateTime)
    # open | completed | cancelled
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    completed_at = Column(DateTime)
    completed_by = Column(String(128))

    def __repr__(self):
        return f"{self.title} (#{self.instance_id})"


class ServiceJob(Model):
    """A service task handed to a worker; the database, not Redis, is its source of truth."""

    __tablename__ = "service_job"
    __table_args__ = (Index("ix_service_job_due", "status", "next_attempt_at"),)

    id = Column(Integer, primary_key=True)
    instance_id = Column(Integer, ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False, index=True)
    task_guid = Column(String(36), nullable=False, unique=True)
    task_name = Column(String(128), nullable=False)
    operation = Column(String(128), nullable=False)
    params = Column(JSON, nullable=False, default=dict)
    queue = Column(String(32), nullable=False, default="default")
    # queued | running | retry | done | failed | cancelled
    status = Column(String(16), nullable=False, default="queued")
    attempts = Column(Integer, nullable=False, default=0)
    max_attempts = Column(Integer, nullable=False, default=5)
    next_attempt_at = Column(DateTime)
    lease_until = Column(DateTime)
    last_error = Column(Text)
    result = Column(JSON)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Incident(Model):
    """Something an instance cannot get past by itself: a failed service task or script."""

    __tablename__ = "incident"

    id = Column(Integer, primary_key=True)
    instance_id = Column(Integer, ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False, index=True)
    instance = relationship(ProcessInstance)
    # service_task | engine
    kind = Column(String(32), nullable=False)
    task_guid = Column(String(36))
    task_name = Column(String(128))
    message = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    resolved_at = Column(DateTime, index=True)
    resolved_by = Column(String(128))

    def __repr__(self):
        return f"#{self.id} {self.kind}: {self.message[:60]}"


class MessageSubscription(Model):
    """An instance waiting for a message with these correlation values (indexed routing)."""

    __tablename__ = "message_subscription"
    __table_args__ = (Index("ix_message_subscription_route", "message_name", "correlation_key"),)

    id = Column(Integer, primary_key=True)
    instance_id = Column(Integer, ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False, index=True)
    message_name = Column(String(128), nullable=False)
    correlation = Column(JSON, nullable=False, default=dict)
    # Canonical JSON of ``correlation`` (sorted keys, string values) for the indexed lookup.
    correlation_key = Column(String(512), nullable=False)
    task_guid = Column(String(36), nullable=False)


class ProcessEvent(Model):
    """History: what happened to an instance, who did it and with which data."""

    __tablename__ = "process_event"

    id = Column(Integer, primary_key=True)
    instance_id = Column(Integer, ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=False, index=True)
    # started | task_completed | task_claimed | task_unclaimed | message | timer | service_task |
    # error | retry | cancelled | suspended | resumed | completed | migrated
    kind = Column(String(32), nullable=False)
    task_name = Column(String(128))
    actor = Column(String(128))
    data = Column(JSON)
    created_at = Column(DateTime, nullable=False, default=utcnow)
