"""What backward keeps: the liveness analysis, the peak formulas, and the bytes the code holds.

The formulas are measured, not only claimed: the generated NumPy code runs
under a tracer that adds up, before every line, the bytes of the arrays and
scalars its frame holds, and the largest total must equal the report's peak
for the same sizes, byte for byte.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.check import random_arrays
from symbackprop.printing.memory import memory_report
from test_zoo import BIND

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PATHS = sorted(EXAMPLES.glob("*.sbp"))


def textbook():
    return sbp.derive(sbp.load(EXAMPLES / "textbook_mlp.sbp"))


def test_the_textbook_keeps_what_backward_reads():
    report = memory_report(textbook())
    # the reference: dJ/dW2 needs h, dJ/dz needs z (through phi'), dJ/dW1 needs x
    assert {"x", "z", "h", "W2"} <= set(report.kept)
    assert set(report.kept) == {"x", "y", "W1", "W2", "λ", "z", "h", "o"}
    by_name = {v.name: v for v in report.values}
    assert by_name["z"].read_by_backward == ("∂J/∂z",)
    assert by_name["h"].read_by_backward == ("∂J/∂W2",)
    assert by_name["x"].read_by_backward == ("∂J/∂W1",)
    # inference frees z once h is computed; training keeps it until dJ/dz
    assert by_name["z"].inference_freed_after == "h"
    assert by_name["z"].training_freed_after == "∂J/∂z"
    assert by_name["h"].inference_freed_after == "o"
    assert by_name["h"].training_freed_after == "∂J/∂W2"
    # W2's gradient is complete second of five backward statements, W1's last
    assert report.gradients == {"W1": (5, 5), "W2": (2, 5)}


def test_the_textbook_formulas():
    report = memory_report(textbook())
    d, h, q = (sp.Symbol(n, integer=True, positive=True) for n in "dhq")
    caller = d * h + h * q + d + q + 1  # x, y, W1, W2, lambda
    assert sp.expand(report.held_by_caller - caller) == 0
    # inference: z and h together while h = phi(z) runs, then h and o, or the three scalars
    assert report.own_peaks("inference") == [2 * h, h + q, sp.Integer(3)]
    assert report.inference_peak == caller + sp.Max(2 * h, h + q, 3)
    sizes = {"d": 784, "h": 256, "q": 10}
    assert report.elements("inference", sizes) == 784 * 256 + 256 * 10 + 784 + 10 + 1 + 512
    # training at these sizes: both gradients, and h with dJ/dh around
    assert report.elements("training", sizes) == report.elements("inference", sizes) - 512 + \
        784 * 256 + 256 * 10 + 256 + 1
    assert report.bytes("training", sizes, "float32") == 4 * report.elements("training", sizes)


def test_the_minibatch_dim_appears_in_the_formula():
    report = memory_report(sbp.derive(sbp.load(EXAMPLES / "mlp_minibatch.sbp")))
    n = sp.Symbol("n", integer=True, positive=True)
    assert n in report.training_peak.free_symbols
    small, large = ({"n": k, "d": 8, "h": 16, "q": 4} for k in (1, 1000))
    # activations grow with the batch; params do not
    growth = report.elements("training", large) - report.elements("training", small)
    assert growth > 999 * (16 + 4)


def test_text_report_and_errors():
    report = memory_report(textbook())
    text = report.text({"d": 784, "h": 256, "q": 10}, "float32")
    assert "kept for backward: x, y, W1, W2, λ, z, h, o" in text
    assert "float32" in text and "training holds" in text
    with pytest.raises(ValueError, match="missing q"):
        report.bytes("training", {"d": 1, "h": 2})
    with pytest.raises(ValueError, match="unknown dtype"):
        report.bytes("training", {"d": 1, "h": 2, "q": 3}, "float8")


class HeldBytes:
    """The most bytes a generated function's frame holds, sampled before every line."""

    def __init__(self, function, dims):
        self.function = function
        self.dims = set(dims)
        self.peak = 0

    def _held(self, frame):
        seen, total = set(), 0
        for name, value in frame.f_locals.items():
            if name in self.dims:
                continue
            if isinstance(value, np.ndarray):
                while value.base is not None:  # a view (x.T) holds its base's memory
                    value = value.base
                if id(value) not in seen:
                    total += value.nbytes
            elif isinstance(value, (np.floating, float)):
                total += 8
            else:
                raise AssertionError(f"{name} holds a {type(value).__name__}")
            seen.add(id(value))
        return total

    def _local(self, frame, event, arg):
        if event in ("line", "return"):
            self.peak = max(self.peak, self._held(frame))
        return self._local

    def _global(self, frame, event, arg):
        code = frame.f_code
        if code.co_name == self.function and code.co_filename.startswith("<symbackprop"):
            return self._local
        return None

    def run(self, f, arrays):
        previous = sys.gettrace()
        sys.settrace(self._global)
        try:
            f(**arrays)
        finally:
            sys.settrace(previous)
        return self.peak


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_the_code_holds_what_the_report_says(path):
    model = sbp.load(path, bind=BIND.get(path.stem))
    d = sbp.derive(model)
    dims = default_dims(model)
    arrays = random_arrays(model, dims, seed=0)
    report = memory_report(d)
    f = d.lambdify()
    dim_names = [f"n_{n}" for n in model.dims]
    training = HeldBytes("value_and_grad", dim_names).run(f, arrays)
    inference = HeldBytes("objective", dim_names).run(f.objective, arrays)
    assert training == report.bytes("training", dims), report.text(dims)
    assert inference == report.bytes("inference", dims), report.text(dims)
    assert training >= inference


def test_shared_temporaries_are_forward_or_backward_by_what_the_objective_needs():
    # t = a + b is computed for J and read by backward; a * tanh'(a + b) is backward only
    d = sbp.derive(sbp.parse("dim n\nparam a: vector(n)\nparam b: vector(n)\n"
                             "J = sum(tanh(a + b) * a)\nobjective J"))
    report = memory_report(d)
    for v in report.values:
        if v.role == "backward (shared)":
            assert not v.kept_for_backward and v.name not in report.kept
        if v.role == "forward (shared)":
            assert v.read_by_backward
    assert "a" in report.kept


def test_a_view_is_not_a_copy():
    model = sbp.parse("dim n\nparam W: matrix(n, n)\ninput x: vector(n)\nWt = W.T\n"
                      "J = sum(Wt @ x)\nobjective J")
    report = memory_report(sbp.derive(model))
    dims = {"n": 100}
    # W, x and the 1 x 1 ... scalars: the transpose adds no n x n array
    assert report.elements("inference", dims) < 2 * 100 * 100


def test_a_transposed_view_shares_its_array():
    # Wt = W.T holds W's array: released, it frees nothing; the code holds W throughout
    model = sbp.parse("dim n\nparam W: matrix(n, n)\ninput x: vector(n)\nWt = W.T\n"
                      "J = sum(Wt @ x)\nobjective J")
    d = sbp.derive(model)
    dims = {"n": 20}
    arrays = random_arrays(model, dims, seed=0)
    report, f = memory_report(d), d.lambdify()
    assert HeldBytes("value_and_grad", ["n_n"]).run(f, arrays) == report.bytes("training", dims)
    assert HeldBytes("objective", ["n_n"]).run(f.objective, arrays) == \
        report.bytes("inference", dims)


def test_temporaries_are_named_as_in_the_code():
    model = sbp.load(EXAMPLES / "rnn_bptt.sbp")
    d = sbp.derive(model)
    source = sbp.derive(model).lambdify().source
    for v in memory_report(d).values:
        if v.role.endswith("(shared)"):
            assert f"    {v.name} = " in source, v.name


def test_an_abstract_derivation_says_so():
    text = memory_report(textbook()).text()
    assert "for abstract φ, ℓ" in text
    bound = sbp.derive(sbp.load(EXAMPLES / "textbook_mlp.sbp", bind=BIND["textbook_mlp"]))
    assert "abstract" not in memory_report(bound).text()
