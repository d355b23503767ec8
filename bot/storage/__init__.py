"""Storage: engine and session factories, SQLAlchemy models, repositories and Alembic migrations; all SQL lives here."""
