"""Read-only queries behind the back-office process screens (definitions, incidents).

Changes to processes go through ``app/workflows/`` only; this module just reads the engine's
tables for lists the gateway has no call for (all keys at once, incidents across instances).
"""
from sqlalchemy import func, select

from ..extensions import db
from ..models.workflow import Incident, ProcessDefinition, ProcessInstance


def definitions_overview():
    """One row per process key: its latest version (name, deployed by/at) and the version count."""
    latest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"),
               func.count().label("count"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    rows = db.session.execute(
        select(ProcessDefinition, latest.c.count)
        .join(latest, (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.version))
        .order_by(ProcessDefinition.key)
    ).all()
    return [{"definition": definition, "version_count": count} for definition, count in rows]


def definition_versions(key):
    """Every version of a key, newest first, with the number of instances on each."""
    counts = (
        select(ProcessInstance.definition_id, func.count().label("instances"))
        .group_by(ProcessInstance.definition_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ProcessDefinition, func.coalesce(counts.c.instances, 0))
        .outerjoin(counts, counts.c.definition_id == ProcessDefinition.id)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
    ).all()
    return [{"definition": definition, "instances": instances} for definition, instances in rows]


def process_keys():
    return list(db.session.execute(
        select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)
    ).scalars())


def business_keys(instance_ids):
    """``{instance id: business key}`` for a page of tasks, in one query."""
    ids = set(instance_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(ProcessInstance.id, ProcessInstance.business_key).where(ProcessInstance.id.in_(ids))
    ).all())


def open_incidents(page=0, page_size=50):
    """Unresolved incidents of all instances, newest first, with their instance loaded."""
    query = select(Incident).where(Incident.resolved_at.is_(None))
    total = db.session.execute(query.with_only_columns(func.count())).scalar()
    rows = db.session.execute(
        query.join(Incident.instance).order_by(Incident.created_at.desc(), Incident.id.desc())
        .offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total
