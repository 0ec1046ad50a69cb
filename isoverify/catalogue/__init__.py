"""The isolation catalogue as a test module: `isoverify` runs it, and `pytest` in a checkout."""
