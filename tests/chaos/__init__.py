"""Chaos tests: a seeded workload while the manager is SIGKILLed (see README.md)."""

import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (_TESTS, os.path.join(_TESTS, "integration"), os.path.dirname(_TESTS),
              os.path.join(os.path.dirname(_TESTS), "contrib")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
