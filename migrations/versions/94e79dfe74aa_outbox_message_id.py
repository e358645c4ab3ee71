"""outbox message_id: one Message-ID per outbox message, reused by every retry (G6)

Revision ID: 94e79dfe74aa
Revises: 85872c8daa22
Create Date: 2026-12-02 09:51:25.645565

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '94e79dfe74aa'
down_revision = '85872c8daa22'
branch_labels = None
depends_on = None


def upgrade():
    # Messages already in the outbox get theirs at their next delivery attempt (portal.jobs.notify).
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('message_id')
