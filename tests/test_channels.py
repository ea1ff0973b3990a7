"""Families of two indices: kernels ``K[o, c]`` of O output and C input channels.

A family declared ``param K[o, c]: ... for o in 1..O, c in 1..C`` has a member
for every pair; a loop over one index reads it inside a sum over the other.
The model is checked written out (``K[2, 3]`` is ``K_2_3``), its mistakes are
located, and its derivation is proved at several O and C: finite differences,
SymPy entry by entry, PyTorch autograd in float64.
"""

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.language import syntax as ast
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.sizes import default_dims
from reference import relative_error, torch_value_and_grad

CHANNELS = """\
dim n, m, p, O, C
input X[c]: matrix(m, n) for c in 1..C
param K[o, c]: matrix(p, m) for o in 1..O, c in 1..C
param b[o]: scalar for o in 1..O
for o in 1..O:
    Y[o] = tanh(sum(K[o, c] @ X[c] for c in 1..C) + b[o])
J = sum(sum(Y[o]) for o in 1..O)
objective J
"""

SIZES = [{"O": 1, "C": 1}, {"O": 2, "C": 3}, {"O": 3, "C": 2}]


def test_a_family_of_two_indices_is_declared_with_a_range_for_each():
    decl = ast.parse_statements(CHANNELS)[2]
    assert decl.name == "K" and [var for var, _ in decl.family_indices] == ["o", "c"]
    flat = sbp.parse(CHANNELS).unrolled({"O": 2, "C": 3})
    kernels = [n for n in flat.variables if n.startswith("K_")]
    assert kernels == ["K_1_1", "K_1_2", "K_1_3", "K_2_1", "K_2_2", "K_2_3"]
    assert str(flat.variables["K_2_3"].shape) == "matrix(p, m)"
    assert flat.variables["K_2_3"].role == "param"


def test_a_member_of_two_indices_prints_with_both():
    d = sbp.derive(sbp.parse(CHANNELS).unrolled({"O": 2, "C": 2}))
    text = d.text(prod=False, shapes=False)
    assert "Y_2 = tanh(K_{2,1} X_1 + K_{2,2} X_2 + b_2 (𝟏 𝟏ᵀ))" in text
    assert "∂J/∂X_1 = K_{1,1}ᵀ (∂J/∂Y_1 ⊙ (1 - Y_1^⊙2)) + K_{2,1}ᵀ" in text
    assert "\\boldsymbol{K}_{2,1}" in d.latex()


@pytest.mark.parametrize("lengths", SIZES, ids=lambda s: f"O{s['O']}C{s['C']}")
def test_written_out_it_is_proved_three_ways(lengths):
    flat = sbp.parse(CHANNELS).unrolled(lengths)
    assert sbp.check(flat).ok
    report = sbp.verify(flat, dims={name: 2 for name in flat.dims})
    assert report.ok, str(report)
    d = sbp.derive(flat)
    assert sbp.prove_printed(d).ok
    arrays = random_arrays(flat, default_dims(flat), seed=5)
    wrt = [n for n, v in flat.variables.items() if v.role in ("param", "input")]
    J, grads = d.lambdify(wrt=wrt)(**arrays)
    J_torch, grads_torch = torch_value_and_grad(flat, arrays, wrt)
    assert relative_error(J, J_torch) <= 1e-12
    for name in wrt:
        assert relative_error(grads[name], grads_torch[name]) <= 1e-9, name
    assert np.isfinite(J)


@pytest.mark.parametrize("edit, line, col, message", [
    (("K[o, c] @ X[c]", "K[o] @ X[c]"), 6, 21,
     "the family 'K' has 2 indices, and K[...] gives one"),
    (("K[o, c] @ X[c]", "K[o, c, c] @ X[c]"), 6, 21,
     "the family 'K' has 2 indices, and K[...] gives 3"),
    (("K[o, c] @ X[c]", "K[o, c+1] @ X[c]"), 6, 21,
     "K[1, 4] is outside the family 'K', which runs over 1..3 × 1..3 here"),
    (("K[o, c] @ X[c]", "K[o+1, c] @ X[c]"), 6, 21, "K[4, 1] is outside the family 'K'"),
    (("K[o, c] @ X[c]", "K[o, d] @ X[c]"), 6, 26,
     "'d' is neither a loop variable nor a dimension"),
    (("X[c] for c", "X[o, c] for c"), 6, 31, "the family 'X' has one index, and X[...] gives 2"),
    (("K[o, c]: matrix(p, m) for o in 1..O, c in 1..C", "K[o, c]: matrix(p, m) for o in 1..O"),
     3, 7, "a family names its ranges after its type, one for each index in order"),
    (("for o in 1..O, c in 1..C", "for c in 1..C, o in 1..O"), 3, 7,
     "one for each index in order: param K[o, c]: ... for o in 1..O, c in 1..C"),
    (("for o in 1..O, c in 1..C", "for o in 1..O, o in 1..C"), 3, 7,
     "one for each index in order"),
    (("K[o, c]: matrix", "K[o, c, d]: matrix"), 3, 13, "a declared family has one index or two"),
    (("for o in 1..O, c in 1..C", "for o in 1..O, c in 1..C, d in 1..C"), 3, 53,
     "a family has at most 2 indices"),
])
def test_mistakes_with_two_indices_are_located(edit, line, col, message):
    text = CHANNELS.replace(*edit)
    assert text != CHANNELS
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(text, "channels.sbp")
    first = caught.value
    assert (first.line, first.col, first.filename) == (line, col, "channels.sbp"), str(first)
    assert message in first.message, first.message
    assert len(first.errors) == 1, [str(e) for e in first.errors]


def test_the_same_letter_for_both_indices_is_an_error():
    text = CHANNELS.replace("K[o, c]: matrix(p, m) for o in 1..O, c in 1..C",
                            "K[o, o]: matrix(p, m) for o in 1..O, o in 1..C")
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(text, "channels.sbp")
    assert (caught.value.line, caught.value.col) == (3, 7)
    assert "names the index 'o' twice" in caught.value.message
