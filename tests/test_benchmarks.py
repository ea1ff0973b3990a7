"""The benchmarks' own code: every example's generated, PyTorch and hand-written value and
gradients agree at tiny sizes, as section 6 of ``benchmarks/run.py`` checks before it times.

No timing here (speed is measured by the benchmark script alone); what is tested is that the
script still runs on every example and that its hand-written baselines are right.
"""

import sys
from pathlib import Path

import pytest

from reference import torch_or_skip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import every_example  # noqa: E402  (beside benchmarks/run.py, not a package)

EXAMPLES = every_example.examples()


@pytest.mark.parametrize("name, path", EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_benchmarked_functions_agree(name, path):
    torch_or_skip()
    f, arrays, flat, values, wrt = every_example.prepare(name, path, 2, 3)
    torch_fn = every_example.torch_function(flat, values, wrt)
    assert every_example.torch_agrees(f, arrays, torch_fn, flat, wrt, values) <= 1e-10
    if name in every_example.HAND:
        assert every_example.hand_agrees(name, f, arrays) <= 1e-10
    if name not in every_example.LENGTHS:  # the generated function without its wrapper
        J_module, _ = every_example._module_call(f, flat, arrays)()
        assert float(J_module) == pytest.approx(f(**arrays)[0], rel=1e-12)


def test_every_example_is_benchmarked():
    on_disk = {p.stem for p in (every_example.ROOT / "examples").glob("**/*.sbp")
               if "written_out" not in p.parts}
    assert {name for name, _ in EXAMPLES} == on_disk
    assert set(every_example.HAND) <= on_disk
