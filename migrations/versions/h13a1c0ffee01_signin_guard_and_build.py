"""sign-in guard and server build: rejected-password fingerprint, Kerberos realm/KDC, mechanism, build check

Revision ID: h13a1c0ffee01
Revises: b3c1f0a7d2e4
Create Date: 2026-12-07 14:00:00

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base  # noqa: F401  (UTCDateTime columns)

# revision identifiers, used by Alembic.
revision = 'h13a1c0ffee01'
down_revision = 'h18a1c0de001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exchange_integration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejected_password_fp', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('rejected_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('kerberos_realm', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('signed_in_with', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('build_checked_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('tls_end_point', sa.String(length=128), nullable=True))


def downgrade():
    with op.batch_alter_table('exchange_integration', schema=None) as batch_op:
        batch_op.drop_column('tls_end_point')
        batch_op.drop_column('build_checked_at')
        batch_op.drop_column('signed_in_with')
        batch_op.drop_column('kerberos_realm')
        batch_op.drop_column('rejected_at')
        batch_op.drop_column('rejected_password_fp')
