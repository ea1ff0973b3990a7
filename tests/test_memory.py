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
from symbackprop.derivation.program import forward_program, training_program
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


# --- the program of H v ---------------------------------------------------------------------

def _elements(symbol, sizes):
    """The entries of a value, at `sizes` ({dim symbol: size})."""
    if isinstance(symbol, sp.Symbol):
        return 1
    return int((symbol.shape[0] * symbol.shape[1]).subs(sizes))


def _walked(program, sizes):
    """The most elements `program` allocates and holds at once, walked as its code runs.

    After each statement (before its ``del``), each live name holds an array:
    its own, or, for a name or a transpose of one (``g = t0``, ``x.T``), the
    array of what it names.  The arguments' arrays are the caller's.
    """
    array_of, most = {}, 0
    for statement, released in zip(program.statements, program.releases):
        value = statement.value
        if statement.is_alias:
            source = value.arg if isinstance(value, sp.Transpose) else value
            array_of[statement.target] = array_of.get(source, source)
        else:
            array_of[statement.target] = statement.target
        live = set(array_of.values()) - set(program.arguments)
        most = max(most, sum(_elements(a, sizes) for a in live))
        for symbol in released:
            del array_of[symbol]
    return most


def _kept(hvp, program):
    """The caller's values and forward values that a statement after the forward pass reads."""
    defined = {s.target: s for s in program}
    forward, pending = set(), [hvp.derivation.symbols[hvp.model.objective]]
    while pending:
        symbol = pending.pop()
        if symbol not in forward:
            forward.add(symbol)
            pending.extend(defined[symbol].reads if symbol in defined else ())
    read_later = {r for s in program if s.target not in forward for r in s.reads}
    sizes = set(hvp.model.dims.values())
    return {s for s in read_later - sizes if s in forward or s not in defined}


def textbook_hvp():
    return sbp.derive_hvp(textbook())


@pytest.mark.parametrize("sizes", [{"d": 1, "h": 1, "q": 1}, {"d": 784, "h": 256, "q": 10},
                                   {"d": 3, "h": 50, "q": 7}])
def test_the_hvp_peak_is_the_walk_of_its_program(sizes):
    hvp = textbook_hvp()
    report = hvp.memory()
    program = hvp.program()
    dims = {hvp.model.dims[n]: k for n, k in sizes.items()}
    model = hvp.model
    caller = sum(_elements(hvp.derivation.symbols[n], dims)
                 for n, v in model.variables.items() if v.declared)
    caller += sum(_elements(v, dims) for v in hvp.directions.values())
    assert report.elements("hvp", sizes) == caller + _walked(program, dims)
    assert int(report.held_by_caller.subs(dims)) == caller
    # inference and training, as the first-order report has them, and walked the same way
    first = memory_report(hvp.derivation)
    for which, walked in (("inference", forward_program(hvp.derivation)),
                          ("training", training_program(hvp.derivation))):
        assert report.peak(which) == getattr(first, f"{which}_peak")
        assert report.elements(which, sizes) == first.elements(which, sizes) == \
            int(first.held_by_caller.subs(dims)) + _walked(walked, dims)


def test_the_hvp_report_keeps_what_its_program_reads_after_the_forward_pass():
    hvp = textbook_hvp()
    report = hvp.memory()
    kept = _kept(hvp, hvp.program())
    assert set(report.kept) == {hvp.pretty(s) for s in kept}
    assert report.kept == ("x", "y", "W1", "W2", "λ", "V_W1", "V_W2", "z", "h", "o")
    by_name = {v.name: v for v in report.values}
    # z is read by phi''(z) in R{dJ/dz}: the H v program keeps it past training's last use
    assert by_name["z"].training_freed_after == "∂J/∂z"
    assert by_name["z"].hvp_freed_after == "R{∂J/∂z}"
    assert by_name["h"].hvp_freed_after == "R{∂J/∂W2}"
    assert by_name["V_W1"].role == "direction" and by_name["V_W1"].freed_after("hvp") is None
    assert by_name["R{z}"].role == "tangent" and by_name["R{z}"].training_freed_after is None
    assert by_name["R{∂J/∂W1}"].role == "H v" and by_name["R{∂J/∂W1}"].hvp_freed_after == \
        "(returned)"
    # the statements after the forward pass: five of first order, then eight tangents
    assert report.gradients == {"W1": (5, 13), "W2": (2, 13)}
    assert report.hvps == {"W1": (13, 13), "W2": (10, 13)}


def test_the_first_order_report_is_unchanged_by_the_hvp_one():
    first, second = memory_report(textbook()), textbook_hvp().memory()
    assert first.programs == ("inference", "training")
    assert second.programs == ("inference", "training", "hvp")
    assert first.title == "What backward keeps"
    assert "H v" not in first.text() and "direction" not in first.text()
    assert all(v.hvp_freed_after is None for v in first.values)
    # each first-order value has the same lifetimes in both, inference and training
    shared = {v.name: v for v in second.values}
    for v in first.values:
        assert (v.inference_freed_after, v.training_freed_after) == (
            shared[v.name].inference_freed_after, shared[v.name].training_freed_after), v.name
    text = second.text({"d": 784, "h": 256, "q": 10})
    assert "peak, H v: " in text and "H v holds" in text and "H v frees it after" in text


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_the_hvp_code_holds_what_the_report_says(path):
    model = sbp.load(path, bind=BIND.get(path.stem))
    hvp = sbp.derive_hvp(sbp.derive(model))
    dims = default_dims(model)
    arrays = random_arrays(model, dims, seed=0)
    rng = np.random.default_rng(1)
    v = {n: rng.standard_normal(np.shape(arrays[n])) for n in hvp.directions}
    f = hvp.lambdify()
    held = HeldBytes("hvp", [f"n_{n}" for n in model.dims]).run(lambda **a: f(v, **a), arrays)
    report = hvp.memory()
    assert held == report.bytes("hvp", dims), report.text(dims)


def test_the_memory_command_describes_the_hvp_program(capsys):
    from symbackprop.cli import main
    assert main(["memory", str(EXAMPLES / "textbook_mlp.sbp"), "--hvp",
                 "--dims", "d=784,h=256,q=10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("What backward and the tangents keep: ")
    assert "peak, H v: " in out and "R{∂J/∂W1}" in out
    assert main(["memory", str(EXAMPLES / "textbook_mlp.sbp")]) == 0
    assert "H v" not in capsys.readouterr().out
