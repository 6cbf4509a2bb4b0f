"""API keys and idempotent replays (placeholder, filled in by the API work)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 09:40:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
