"""exchange link unconfirmed_at: a write Exchange answered with success but did not apply (SPEC G10)

Revision ID: h12b1c0f1e2a
Revises: b3c1f0a7d2e4
Create Date: 2026-12-07 14:10:00

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base  # noqa: F401  (UTCDateTime columns)

# revision identifiers, used by Alembic.
revision = 'h12b1c0f1e2a'
down_revision = 'h13a1c0ffee01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exchange_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unconfirmed_at', portal.models.base.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('exchange_links', schema=None) as batch_op:
        batch_op.drop_column('unconfirmed_at')
