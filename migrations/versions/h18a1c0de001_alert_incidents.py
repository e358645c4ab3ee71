"""alert incidents (O4): what admins were told about, and when

Revision ID: h18a1c0de001
Revises: b3c1f0a7d2e4
Create Date: 2026-12-07 14:00:00

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base  # noqa: F401  (UTCDateTime columns)

# revision identifiers, used by Alembic.
revision = 'h18a1c0de001'
down_revision = 'h16a1c0ffee1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'alert_incidents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('subject_key', sa.String(length=120), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('opened_at', portal.models.base.UTCDateTime(), nullable=False),
        sa.Column('notified_at', portal.models.base.UTCDateTime(), nullable=True),
        sa.Column('reminders_sent', sa.Integer(), nullable=False),
        sa.Column('last_sent_at', portal.models.base.UTCDateTime(), nullable=True),
        sa.Column('resolved_at', portal.models.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_incidents')),
    )
    with op.batch_alter_table('alert_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_incidents_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_incidents_resolved_at'), ['resolved_at'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_incidents_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_alert_incidents_kind'))
    op.drop_table('alert_incidents')
