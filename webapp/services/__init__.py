"""Business rules. Plain functions over the SQLAlchemy session; they never read ``request``."""
