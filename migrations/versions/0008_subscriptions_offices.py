"""subscriptions (PR-7), offices and booked visits (CT-3, PR-10)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'office',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=160), nullable=False),
        sa.Column('address', sa.String(length=512), nullable=False),
        sa.Column('latitude', sa.Float(), nullable=True),
        sa.Column('longitude', sa.Float(), nullable=True),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('opening_hours', sa.String(length=256), nullable=False),
        sa.Column('slot_minutes', sa.Integer(), nullable=False),
        sa.Column('services', sa.String(length=512), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'appointment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('service', sa.String(length=32), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['office_id'], ['office.id']),
        sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('request_id'),
    )
    op.create_index('ix_appointment_customer_id', 'appointment', ['customer_id'], unique=False)
    op.create_index('uq_appointment_slot', 'appointment', ['office_id', 'starts_at'], unique=True,
                    postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.create_table(
        'subscription',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('target', sa.String(length=600), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('address', sa.String(length=512), nullable=True),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column('starts_on', sa.Date(), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('activated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('customer_id', 'kind', 'target', 'channel', name='uq_subscription'),
    )
    op.create_index('ix_subscription_account_id', 'subscription', ['account_id'], unique=False)
    op.create_index('ix_subscription_customer_id', 'subscription', ['customer_id'], unique=False)
    op.create_index('ix_subscription_request_id', 'subscription', ['request_id'], unique=False)


def downgrade():
    op.drop_table('subscription')
    op.drop_index('uq_appointment_slot', table_name='appointment')
    op.drop_index('ix_appointment_customer_id', table_name='appointment')
    op.drop_table('appointment')
    op.drop_table('office')
