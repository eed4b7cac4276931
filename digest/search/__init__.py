"""Finding papers for a topic: text normalisation (``text``), the topic language
(``language``), the in-memory index of a day's papers (``index``) and scoring (``ranking``).

Plain Python with no Django import (tests/test_layout.py fails if one appears), so the
engine can be read, tested and benchmarked on its own; ``digest/matching.py`` is the
thin adapter between it and the database.
"""
