"""mailbox listener note: why a mailbox's notifications stepped down the listener's ladder (SPEC G9)

Revision ID: h12a1b2c3d4e
Revises: b3c1f0a7d2e4
Create Date: 2026-12-07 14:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'h12a1b2c3d4e'
down_revision = 'h12b1c0f1e2a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mailbox_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listener_note', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('mailbox_states', schema=None) as batch_op:
        batch_op.drop_column('listener_note')
