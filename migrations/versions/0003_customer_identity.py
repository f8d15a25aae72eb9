"""customer identity, outbox delivery, staff two-factor

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:26:54.575368

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('full_name', sa.String(length=256), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('email_confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('pending_email', sa.String(length=254), nullable=True),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('consent_at', sa.DateTime(), nullable=False),
    sa.Column('consent_withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('theme', sa.String(length=8), nullable=False),
    sa.Column('keep_signed_in', sa.Boolean(), nullable=False),
    sa.Column('notification_preferences', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('phone')
    )
    op.create_table('oidc_login',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('app_challenge', sa.String(length=64), nullable=False),
    sa.Column('redirect_uri', sa.String(length=512), nullable=False),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('state')
    )
    op.create_table('customer_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('pin_hash', sa.String(length=256), nullable=True),
    sa.Column('pin_failures', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.String(length=1024), nullable=True),
    sa.Column('challenge_hash', sa.String(length=64), nullable=True),
    sa.Column('challenge_expires_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('customer_device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_device_customer_id'), ['customer_id'], unique=False)

    op.create_table('customer_federated_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'subject', name='uq_federated_identity_provider_subject')
    )
    with op.batch_alter_table('customer_federated_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_federated_identity_customer_id'), ['customer_id'], unique=False)

    op.create_table('customer_security_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=256), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customer_security_event', schema=None) as batch_op:
        batch_op.create_index('ix_customer_security_event_customer_at', ['customer_id', 'at'], unique=False)

    op.create_table('one_time_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('consumed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('one_time_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_one_time_code_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_one_time_code_phone_purpose', ['phone', 'purpose', 'created_at'], unique=False)

    op.create_table('staff_two_factor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_encrypted', sa.String(length=256), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.Column('recovery_code_hashes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    op.create_table('customer_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('persistent', sa.Boolean(), nullable=False),
    sa.Column('user_agent', sa.String(length=256), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['device_id'], ['customer_device.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('customer_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_session_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_session_device_id'), ['device_id'], unique=False)

    op.create_table('customer_refresh_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('rotated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['customer_session.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('customer_refresh_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_refresh_token_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('queue', sa.String(length=16), nullable=False, server_default='default'))
        batch_op.add_column(sa.Column('subject', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('provider', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('provider_message_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=False, server_default=sa.func.now()))
        batch_op.create_index(batch_op.f('ix_outbox_message_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_outbox_message_status_next_attempt', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_foreign_key('fk_outbox_message_customer_id', 'customer', ['customer_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_message_customer_id', type_='foreignkey')
        batch_op.drop_index('ix_outbox_message_status_next_attempt')
        batch_op.drop_index(batch_op.f('ix_outbox_message_customer_id'))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('provider_message_id')
        batch_op.drop_column('provider')
        batch_op.drop_column('last_error')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('subject')
        batch_op.drop_column('queue')
        batch_op.drop_column('customer_id')

    with op.batch_alter_table('customer_refresh_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_refresh_token_session_id'))

    op.drop_table('customer_refresh_token')
    with op.batch_alter_table('customer_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_session_device_id'))
        batch_op.drop_index(batch_op.f('ix_customer_session_customer_id'))

    op.drop_table('customer_session')
    op.drop_table('staff_two_factor')
    with op.batch_alter_table('one_time_code', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_code_phone_purpose')
        batch_op.drop_index(batch_op.f('ix_one_time_code_customer_id'))

    op.drop_table('one_time_code')
    with op.batch_alter_table('customer_security_event', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_security_event_customer_at')

    op.drop_table('customer_security_event')
    with op.batch_alter_table('customer_federated_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_federated_identity_customer_id'))

    op.drop_table('customer_federated_identity')
    with op.batch_alter_table('customer_device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_device_customer_id'))

    op.drop_table('customer_device')
    op.drop_table('oidc_login')
    op.drop_table('customer')
