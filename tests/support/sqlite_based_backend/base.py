"""A database backend built on Django's SQLite one (as PostGIS or a metrics wrapper is built on
another): its vendor is SQLite's, which face_idcard supports (tests/site/test_database_support.py)."""

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper


class DatabaseWrapper(SQLiteDatabaseWrapper):
    pass
