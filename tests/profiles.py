"""Hypothesis profiles: the same verdict on every run by default, exploration on request.

By default (and in CI, whose ``.ci/run`` runs the same command) every property replays a
fixed set of examples, derived from the test itself: ``python -m pytest`` passes or fails
the same way on every run and every machine, and no example database is read or written.
The failing example is reported as it was drawn, unshrunk: shrinking once ran the suite
to 31 minutes, and the drawn example of a derandomised run comes back on every rerun,
so it can be studied (or shrunk with ``SYMBACKPROP_FUZZ=1``) at leisure.

``SYMBACKPROP_FUZZ=1`` explores instead: new random examples on every run, ten times as
many, shrunk when one fails, and kept in Hypothesis's database (``.hypothesis/``) so the
next exploring run tries them first.  Its failures are findings to turn into fixed
regression tests, not a verdict on the commit.

The verdict does not depend on time either: the deadline and the too-slow health check,
which would make a busy machine fail what a quiet one passes, are off in both profiles
(the parser's properties set a deadline of their own, 5 s, for a text that parses in
milliseconds: a guard against a parser gone quadratic, not a timing).
"""

import os

from hypothesis import HealthCheck, Phase, settings

#: Exploring draws this many times as many examples as the fixed set has.
FUZZ_FACTOR = 10
FUZZ = bool(os.environ.get("SYMBACKPROP_FUZZ"))

_TIMELESS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", derandomize=True, database=None, print_blob=False,
                          phases=[Phase.explicit, Phase.generate, Phase.target], **_TIMELESS)
settings.register_profile("fuzz", derandomize=False, print_blob=True,
                          max_examples=FUZZ_FACTOR * settings.default.max_examples, **_TIMELESS)
settings.load_profile("fuzz" if FUZZ else "default")


def examples(n):
    """A property's number of examples: `n` in the fixed set, more when exploring."""
    return FUZZ_FACTOR * n if FUZZ else n
