"""Hypothesis explores new examples on every local run; in CI it replays a fixed set.

CI (``.ci/run`` sets SYMBACKPROP_CI=1) must give the same verdict on the same commit,
so there the examples are derived from each test's name, not drawn at random.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("SYMBACKPROP_CI"):
    settings.load_profile("ci")
