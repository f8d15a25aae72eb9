"""process documents and staff files on requests

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:47:07.337054

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('request_attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_username', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('job_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_request_attachment_job_id'), ['job_id'], unique=True)



def downgrade():
    with op.batch_alter_table('request_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_attachment_job_id'))
        batch_op.drop_column('job_id')
        batch_op.drop_column('staff_username')

