"""users.session_token: server-side revocation of sessions and remember-me cookies (R1)

Revision ID: h16a1c0ffee1
Revises: b3c1f0a7d2e4
Create Date: 2026-12-07 14:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'h16a1c0ffee1'
down_revision = 'b3c1f0a7d2e4'
branch_labels = None
depends_on = None


def upgrade():
    # Existing users get an empty token: their old cookies (a bare id) are refused; the next sign-in sets one.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_token')
