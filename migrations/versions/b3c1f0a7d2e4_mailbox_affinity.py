"""mailbox affinity: ExternalEwsUrl|GroupingInformation per mailbox for notification groups (issue #7)

Revision ID: b3c1f0a7d2e4
Revises: 94e79dfe74aa
Create Date: 2026-12-02 10:25:00

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base  # noqa: F401  (UTCDateTime columns)

# revision identifiers, used by Alembic.
revision = 'b3c1f0a7d2e4'
down_revision = '94e79dfe74aa'
branch_labels = None
depends_on = None


def upgrade():
    # Existing mailboxes get theirs from the listener's next Autodiscover pass.
    with op.batch_alter_table('mailbox_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('affinity', sa.String(length=600), nullable=True))
        batch_op.add_column(sa.Column('affinity_checked_at', portal.models.base.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('mailbox_states', schema=None) as batch_op:
        batch_op.drop_column('affinity_checked_at')
        batch_op.drop_column('affinity')
