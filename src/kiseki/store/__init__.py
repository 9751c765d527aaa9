"""Persistence: SQL schema and migrations, the metric store, and the ingest of run records.

Nothing outside this package sees a ``*Row`` or a SQLAlchemy object; callers use
:class:`kiseki.store.sqlstore.SQLStore` and get plain dicts/structs back.
"""
