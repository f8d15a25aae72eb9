"""Appeal topics (SPEC PR-6): the list a customer picks from, with search, and the rule every
form naming a topic follows (an appeal, a callback order).

The list is short (tens of rows) and edited by staff, so search is done here rather than in SQL:
SQLite's ``lower()`` knows only ASCII and PostgreSQL's depends on the database's collation,
while Russian needs case folding and "ё" read as "е" on both.
"""
from sqlalchemy import select

from ..errors import Invalid
from ..extensions import db
from ..models.appeals import AppealTopic

OTHER = {"ru": "Другое", "en": "Other"}
OTHER_TOPIC_MAX = 200
QUERY_MAX = 100


def _fold(text):
    return (text or "").casefold().replace("ё", "е")


def _title(topic, lang):
    return (topic.title_en if lang == "en" else None) or topic.title


def client_list(q=None, lang="ru"):
    """Active topics by sort order (those whose title contains ``q``, either language), then
    "other" — always last and always offered, so a customer never finds nothing to pick."""
    needle = _fold(q).strip()
    rows = db.session.execute(
        select(AppealTopic).where(AppealTopic.active.is_(True)).order_by(AppealTopic.sort_order, AppealTopic.title)
    ).scalars().all()
    found = [{"id": topic.id, "title": _title(topic, lang), "other": False} for topic in rows
             if not needle or needle in _fold(topic.title) or needle in _fold(topic.title_en)]
    return found + [{"id": None, "title": OTHER.get(lang, OTHER["ru"]), "other": True}]


def resolve(form, field_prefix="form_data."):
    """The topic a form names, as its title: ``topic_id`` of an active topic, or — for "other" —
    ``other_topic`` in the customer's words. 422 ``appeal_topic_unknown`` (missing or switched
    off), ``appeal_topic_other_required`` (neither given) or ``appeal_topic_ambiguous`` (both)."""
    topic_id, other = form.get("topic_id"), (form.get("other_topic") or "").strip()
    def refuse(field, code):
        raise Invalid("request_form_invalid", fields={f"{field_prefix}{field}": [code]})

    if topic_id is not None and other:
        refuse("other_topic", "appeal_topic_ambiguous")
    if topic_id is None:
        if not other:
            refuse("other_topic", "appeal_topic_other_required")
        return {"topic_id": None, "topic": other}
    topic = db.session.get(AppealTopic, topic_id)
    if topic is None or not topic.active:
        refuse("topic_id", "appeal_topic_unknown")
    return {"topic_id": topic.id, "topic": topic.title}


def ensure(titles):
    """Add the topics (``(title, title_en, sort_order)``) that are missing; existing rows are
    left as staff set them. For the demo and fresh installs."""
    existing = set(db.session.execute(select(AppealTopic.title)).scalars())
    for title, title_en, order in titles:
        if title not in existing:
            db.session.add(AppealTopic(title=title, title_en=title_en, sort_order=order, active=True))
    db.session.flush()
