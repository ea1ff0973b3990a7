"""At a kink the gradient is PyTorch's: the conventions the proofs draw their data away from.

The finite differences, ``verify`` and the PyTorch comparisons of
``test_operators.py`` draw random data, which never lands on a kink.  Here the
data is put on them: a tie of max and min (half the adjoint to each argument, as
``torch.maximum`` and ``torch.minimum``), a tie among the entries of a matrix or a
row (split evenly, as ``torch.amax`` and ``torch.amin``), leaky_relu and elu at 0
(a and 1), huber at |r| = δ, and the generated NumPy gradients must equal
PyTorch's autograd there.
"""

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.printing.numpy_function import compile_derivation
from reference import relative_error, torch_value_and_grad

DECLS = ("dim m, n\nparam A: matrix(m, n)\nparam B: matrix(m, n)\nparam v: vector(n)\n"
         "param a: scalar\ninput C: matrix(m, n)\ninput c: vector(n)\n")

TIE = np.array([[1.0, 2.0, 2.0], [-0.5, -0.5, 0.0]])

CASES = {
    "max(A, B) at a tie": ("sum(C * max(A, B))", {"A": TIE, "B": TIE * np.array([1, 1, 0])}),
    "min(A, B) at a tie": ("sum(C * min(A, B))", {"A": TIE, "B": TIE}),
    "max(0, A) at 0": ("sum(C * max(0, A))", {"A": TIE * np.array([0, 1, 1])}),
    "max(A) at a tie of two": ("max(A) * a", {"A": TIE}),
    "min(A) at a tie of three": ("min(A) * a", {"A": np.array([[-1.0, 2.0, -1.0],
                                                               [-1.0, 0.0, 3.0]])}),
    "min_cols at a tie": ("c.T @ min_cols(A)", {"A": np.array([[1.0, 2.0, 0.5],
                                                               [1.0, -2.0, 0.5]])}),
    "leaky_relu at 0": ("sum(C * leaky_relu(A, 0.2))", {"A": TIE * np.array([0, 1, 1])}),
    "elu at 0": ("sum(C * elu(A))", {"A": TIE * np.array([0, 1, 0])}),
    "huber at the threshold": ("huber(A, 0.5)", {"A": np.array([[0.5, -0.5, 0.2],
                                                                [1.0, 0.0, -2.0]])}),
}
CASES["max_rows at a tie"] = ("sum(max_rows(A))", {"A": TIE})


@pytest.mark.parametrize("case", CASES)
def test_the_gradient_at_a_kink_is_pytorchs(case):
    expression, values = CASES[case]
    model = sbp.parse(DECLS + f"J = {expression}\nobjective J\n", filename=case)
    rng = np.random.default_rng(0)
    arrays = {"A": rng.standard_normal((2, 3)), "B": rng.standard_normal((2, 3)),
              "v": rng.standard_normal(3), "a": 0.7, "C": rng.standard_normal((2, 3)),
              "c": rng.standard_normal(3), **values}
    wrt = ["A", "B", "v", "a"]
    J, grads = compile_derivation(sbp.derive(model), wrt)(**arrays)
    J_torch, grads_torch = torch_value_and_grad(model, arrays, wrt)
    assert relative_error(J, J_torch) <= 1e-14
    for name in wrt:
        assert relative_error(grads[name], grads_torch[name]) <= 1e-14, (name, grads[name],
                                                                          grads_torch[name])
