"""`check` must fail a wrong derivation: each mutation of a correct one is caught.

A mutation rewrites one backward step's result with SymPy before the derivation
is compiled (negated, scaled, transposed, one term of a sum dropped), so the
generated code computes a wrong adjoint and every gradient that reads it is
wrong.  `check` must fail each mutated derivation and pass the unmutated one.
Before a mutation is required to fail, it is shown to change the numbers: a
mutation that leaves every gradient as it was (a transposed symmetric matrix, a
dropped term that is zero here) would prove nothing.

``python tests/test_mutations.py`` prints the table of mutations with check's
error for each.
"""

import functools
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.primitives import expressions as ex
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.check import random_arrays
from symbackprop import Derivation, Step

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Examples with the bindings the other tests use.
MODELS = {
    "textbook_mlp": {"phi": "tanh", "ell": "squared_error"},
    "mlp_bias": {"phi": "relu", "ell": "cross_entropy"},
    "softmax_regression": None,
    "rnn_bptt": None,
    "layer_norm": None,
    "batch_norm": None,
}

#: |J| about 1e6 beside |dJ/db| about 1e-7: a gradient that finite differences
#: resolve only with a large step, and one judged against |J| would never fail.
LARGE_OBJECTIVE = """\
dim n
input x: vector(n)
param W: matrix(n, n)
param b: vector(n)
z = W @ x
a = tanh(z + b)
J = 1000000 * mean(square(tanh(z))) + 0.0000001 * (sum(a) + sum(square(b)))
objective J
"""


def large_objective():
    return sbp.derive(sbp.parse(LARGE_OBJECTIVE, filename="<large objective>"))


def example(name):
    return sbp.derive(sbp.load(EXAMPLES / f"{name}.sbp", bind=MODELS[name]))


def mutated(d, node, change):
    """`d` with the result of `node`'s step replaced by ``change(result)``."""
    steps = tuple(Step(s.node, s.adjoint, s.terms, change(s.result)) if s.node == node else s
                  for s in d.steps)
    return Derivation(d.model, d.symbols, steps)


def _dropped(k):
    return lambda result: ex.add(*(a for i, a in enumerate(result.args) if i != k))


def mutations(d, node):
    """The mutations of `node`'s step: (label, change) pairs that apply to its result."""
    result = d.step(node).result
    shape = d.model.variables[node].shape
    out = [("negated", lambda r: -r),
           ("times 50", lambda r: 50 * r),
           ("times 2", lambda r: 2 * r),
           ("times 1/2", lambda r: sp.Rational(1, 2) * r)]
    if shape.kind == "matrix" and shape.rows == shape.cols:
        out.append(("transposed", lambda r: r.T))
    if isinstance(result, (sp.Add, sp.MatAdd)):
        out += [(f"term {k + 1} of {len(result.args)} dropped", _dropped(k))
                for k in range(len(result.args))]
    return out


def gradients(d, seed=0):
    model = d.model
    wrt = [n for n, v in model.variables.items() if v.role in ("param", "input")]
    arrays = random_arrays(model, default_dims(model), seed)
    return d.lambdify(wrt=wrt)(**arrays)[1]


def changes_numbers(correct, wrong):
    """Whether some gradient of `wrong` differs from `correct` by more than rounding."""
    return any(np.linalg.norm(np.subtract(wrong[n], correct[n]))
               > 1e-6 * max(np.linalg.norm(correct[n]), 1e-300) for n in correct)


#: The steps mutated, per model: every param's and input's, and an adjoint that
#: several gradients read.
NODES = {
    "textbook_mlp": ["W1", "W2", "x", "y", "z", "o"],
    "mlp_bias": ["W1", "b1", "W2", "x", "h"],
    "softmax_regression": ["W", "b", "X", "O"],
    "rnn_bptt": ["W", "U", "h0", "x2", "h3"],
    "layer_norm": ["g", "b", "X", "N", "v"],
    "batch_norm": ["gamma", "beta", "X", "C", "sigma2", "mu"],
    "large objective": ["b", "W", "a", "x"],
}


def cases():
    for name, nodes in NODES.items():
        d = large_objective() if name == "large objective" else example(name)
        for node in nodes:
            for label, change in mutations(d, node):
                yield name, node, label, d, change


@functools.lru_cache(maxsize=None)
def correct_gradients(name):
    return gradients(large_objective() if name == "large objective" else example(name))


CASES = list(cases())


@pytest.mark.parametrize("name", list(NODES))
def test_check_passes_the_correct_derivation(name):
    d = large_objective() if name == "large objective" else example(name)
    report = sbp.check(d)
    assert report.ok, str(report)


@pytest.mark.parametrize("name, node, label, d, change", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_check_fails_a_mutated_derivation(name, node, label, d, change):
    wrong = mutated(d, node, change)
    assert changes_numbers(correct_gradients(name), gradients(wrong)), \
        "the mutation changes nothing"
    report = sbp.check(wrong)
    assert not report.ok, f"{name}: ∂J/∂{node} {label} passes\n{report}"


def table():
    """Each mutation and check's verdict, as lines of text."""
    lines = [f"{'model':<18} {'step':<5} {'mutation':<22} {'worst error':>12}  verdict"]
    for name, node, label, d, change in CASES:
        wrong = mutated(d, node, change)
        if not changes_numbers(correct_gradients(name), gradients(wrong)):
            lines.append(f"{name:<18} {node:<5} {label:<22} {'':>12}  (changes nothing)")
            continue
        report = sbp.check(wrong)
        worst = max(report.errors.values())
        lines.append(f"{name:<18} {node:<5} {label:<22} {worst:>12.2e}  "
                     + ("passes" if report.ok else "fails"))
    return lines


if __name__ == "__main__":
    print("\n".join(table()))
