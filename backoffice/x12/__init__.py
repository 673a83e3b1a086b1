"""The X12 codec: reading, writing and checking X12 files. Pure: text in, frozen values out, and back;
no Flask, SQLAlchemy, Redis or models (tests/test_architecture.py keeps it so)."""
