"""staff working hours per weekday (P2); organisation settings (P7, P10); cancel reasons in the history (P8);
client reminders written (P10); per-user zone and clock format (P9)

Revision ID: h17a1c0ffee01
Revises: b3c1f0a7d2e4
Create Date: 2026-12-07 14:10:00

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base  # noqa: F401  (UTCDateTime columns)

revision = 'h17a1c0ffee01'
down_revision = 'h12a1b2c3d4e'
branch_labels = None
depends_on = None


def upgrade():
    # NULL keeps the default week (09:00-17:00 Monday to Friday) for everyone already here.
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('working_hours', sa.Text(), nullable=True))
    with op.batch_alter_table('appointment_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        # NULL: appointments already inside the reminder window are reminded on the next tick (none had one).
        batch_op.add_column(sa.Column('reminded_at', portal.models.base.UTCDateTime(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('clock', sa.String(length=2), nullable=False, server_default='24'))
    op.create_table(
        'organisation_settings',
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('updated_at', portal.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade():
    op.drop_table('organisation_settings')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('clock')
        batch_op.drop_column('timezone')
    with op.batch_alter_table('appointment_changes', schema=None) as batch_op:
        batch_op.drop_column('note')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.drop_column('working_hours')
