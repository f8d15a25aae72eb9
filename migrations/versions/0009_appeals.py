"""appeal topics and answers posted by processes (PR-6)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 16:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The topics a utility's customers write about (seeds: billing centre, heat supplier, grid
# operator); "Другое" is offered by the API, not stored. Staff edit the list in the back office.
TOPICS = [
    ("Начисления и квитанции", "Charges and bills", 10),
    ("Оплата", "Payments", 20),
    ("Показания и приборы учёта", "Meter readings and meters", 30),
    ("Отключения", "Outages", 40),
    ("Качество электроснабжения", "Quality of supply", 50),
    ("Технологическое присоединение", "Grid connection", 60),
    ("Переоформление лицевого счёта", "Transfer of an account", 70),
    ("Работа Кабинета", "Using Kabinet", 80),
]


def upgrade():
    topic = op.create_table(
        'appeal_topic',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=128), nullable=False),
        sa.Column('title_en', sa.String(length=128), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('sort_order', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('title'),
    )
    op.create_table(
        'request_answer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['request_message.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('job_id'),
    )
    with op.batch_alter_table('request_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_answer_request_id'), ['request_id'], unique=False)
    op.bulk_insert(topic, [{"title": title, "title_en": title_en, "active": True, "sort_order": order}
                           for title, title_en, order in TOPICS])


def downgrade():
    with op.batch_alter_table('request_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_answer_request_id'))
    op.drop_table('request_answer')
    op.drop_table('appeal_topic')
