"""Families of two indices: kernels ``K[o, c]`` of O output and C input channels.

A family declared ``param K[o, c]: ... for o in 1..O, c in 1..C`` has a member
for every pair; a loop over one index reads it inside a sum over the other.
The model is checked written out (``K[2, 3]`` is ``K_2_3``), its mistakes are
located, and its derivation is proved at several O and C: finite differences,
SymPy entry by entry, PyTorch autograd in float64.
"""

from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.language.looped import WrittenOutModel
from symbackprop.language import syntax as ast
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.loop_readback import prove_printed_loops
from reference import relative_error, torch_value_and_grad
from test_loops import _agrees_with_pytorch
from typeset import compile_together

# the inputs' adjoints too, shown on request: each rule read back where it is printed
EVERY_STEP = sbp.Notation(inputs=True)

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
    text = d.text(prod=False, shapes=False, inputs=True)
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
    assert sbp.prove_printed(d, notation=EVERY_STEP).ok
    assert np.isfinite(_agrees_with_pytorch(d, seed=5))


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


def test_indices_swapped_are_outside_the_family_at_every_length():
    # at the check length O = C = 3 every member exists; in general c runs over 1..C, not O
    text = CHANNELS.replace("K[o, c] @ X[c]", "K[c, o] @ X[c]")
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(text, "channels.sbp")
    assert (caught.value.line, caught.value.col, caught.value.filename) == (6, 21,
                                                                            "channels.sbp")
    assert "read at index 1 over 1..C, outside the family 'K', whose index 1 runs over 1..O" \
        in caught.value.message


def test_the_same_letter_for_both_indices_is_an_error():
    text = CHANNELS.replace("K[o, c]: matrix(p, m) for o in 1..O, c in 1..C",
                            "K[o, o]: matrix(p, m) for o in 1..O, o in 1..C")
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(text, "channels.sbp")
    assert (caught.value.line, caught.value.col) == (3, 7)
    assert "names the index 'o' twice" in caught.value.message


# --- in general form: derived once for every O and C ----------------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "loops" / "channels.sbp"


def _general():
    return sbp.derive(sbp.parse(CHANNELS, "channels.sbp"))


def test_the_example_has_kernels_of_two_indices_and_a_shared_mixing():
    d = sbp.derive(sbp.load(EXAMPLE))
    assert d.model.lengths == ("O", "C") and d.model.families["K"].extra
    text = d.text(prod=False, shapes=False, inputs=True)
    assert "  ∂J/∂W = Σ_{o=1}^{O} (∂J/∂Y_o) H_oᵀ\n" in text
    assert "    ∂J/∂K_{o,c} = (∂J/∂A_o) X_cᵀ\n" in text
    memory = d.memory().text()
    assert "in all: O n (p + q) entries" in memory and "grows linearly with O\n" in memory


def test_a_family_of_two_indices_is_typed_for_general_indices():
    model = sbp.parse(CHANNELS)
    assert isinstance(model, sbp.LoopModel) and model.lengths == ("O", "C")
    K = model.families["K"]
    assert [str(i) for i in K.indices] == ["o", "c"]
    assert [(str(lo), str(hi)) for lo, hi in K.bounds] == [("1", "O"), ("1", "C")]


def test_the_backward_steps_are_the_lecture_notes():
    text = _general().text(prod=False, shapes=False, inputs=True)
    backward = text.split("Backward")[1].split("Gradients")[0]
    assert "  for o = O, …, 1, c = C, …, 1:\n" \
           "    ∂J/∂K_{o,c} = (∂J/∂Y_o ⊙ (1 - Y_o^⊙2)) X_cᵀ\n" in backward
    assert "  for c = C, …, 1:\n    ∂J/∂X_c = Σ_{o=1}^{O} K_{o,c}ᵀ (∂J/∂Y_o ⊙ (1 - Y_o^⊙2))\n" \
        in backward
    gradients = text.split("Gradients")[1]
    assert "∂J/∂K_{o,c} = (∂J/∂Y_o ⊙ (1 - Y_o^⊙2)) X_cᵀ,  o = 1, …, O,  c = 1, …, C" \
        in gradients
    tex = _general().latex()
    assert "For $o = O, \\dots, 1$, $c = C, \\dots, 1$:" in tex
    assert "\\frac{\\partial J}{\\partial \\boldsymbol{K}_{o,c}}" in tex


@pytest.mark.parametrize("lengths", SIZES, ids=lambda s: f"O{s['O']}C{s['C']}")
def test_the_general_derivation_is_the_written_out_one(lengths):
    d = _general()
    report = d.prove(lengths)
    assert report.ok, str(report)
    # K's O × C members, b's O, X's C and Y's O each compared with the written-out step
    members = lengths["O"] * lengths["C"] + 2 * lengths["O"] + lengths["C"]
    assert len(report.compared) >= members
    hvp = sbp.derive_hvp(d)
    assert hvp.prove(lengths).ok


@pytest.mark.parametrize("lengths", SIZES, ids=lambda s: f"O{s['O']}C{s['C']}")
def test_the_printed_general_formulas_read_back(lengths):
    d = _general()
    report = d.prove_printed(lengths, notation=EVERY_STEP)
    assert report.ok, str(report.failures)
    assert report.counts == {"text": 9, "LaTeX": 9, "Markdown": 9}  # ∂J/∂X_c listed too
    assert sbp.derive_hvp(d).prove_printed(lengths).ok


@pytest.mark.parametrize("wrong, right", [
    (" X_oᵀ,", " X_cᵀ,"),                                      # the other index
    ("Σ_{o=1}^{O} K_{c,o}ᵀ", "Σ_{o=1}^{O} K_{o,c}ᵀ"),          # the indices swapped
    ("∂J/∂K_{o,c} = (∂J/∂Y_c", "∂J/∂K_{o,c} = (∂J/∂Y_o"),      # a member at the wrong index
])
def test_a_wrong_index_in_print_fails_the_read_back(wrong, right):
    d = _general()
    text = d.text(inputs=True)
    assert right in text
    report = prove_printed_loops(d, {"O": 2, "C": 3},
                                 documents={"text": (text.replace(right, wrong, 1), False)})
    assert not report.ok


def test_the_latex_compiles(tmp_path):
    d = _general()
    compile_together(tmp_path, {"channels": d.latex(), "channels hvp":
                                sbp.derive_hvp(d).latex()})


def _stacked(model, values, lengths):
    """Values of the written-out model in the looped layout: K of shape (O, C, p, m)."""
    out = {n: values[n] for n in model.variables if n in values}
    outs, ins = range(1, lengths["O"] + 1), range(1, lengths["C"] + 1)
    out["K"] = np.stack([np.stack([values[f"K_{o}_{c}"] for c in ins]) for o in outs])
    out["X"] = np.stack([values[f"X_{c}"] for c in ins])
    out["b"] = np.array([values[f"b_{o}"] for o in outs])
    return out


@pytest.mark.parametrize("lengths", SIZES, ids=lambda s: f"O{s['O']}C{s['C']}")
def test_the_looped_code_takes_stacked_kernels_and_agrees_with_pytorch(lengths):
    model = sbp.parse(CHANNELS)
    f = sbp.derive(model).lambdify(wrt=["K", "b", "X"])
    flat = model.unrolled(lengths)
    values = random_arrays(flat, default_dims(flat), seed=7)
    wrt = [n for n, v in flat.variables.items() if v.role in ("param", "input")]
    J_torch, g_torch = torch_value_and_grad(flat, values, wrt)
    J, grads = f(**_stacked(model, values, lengths))
    assert relative_error(J, J_torch) <= 1e-12
    expected = _stacked(model, g_torch, lengths)
    p, m = flat.variables["K_1_1"].shape.rows, flat.variables["K_1_1"].shape.cols
    sizes = default_dims(flat)
    assert grads["K"].shape == (lengths["O"], lengths["C"], sizes[str(p)], sizes[str(m)])
    for name in ("K", "b", "X"):
        assert relative_error(grads[name], expected[name]) <= 1e-12, name


def test_the_looped_source_is_the_same_for_every_length():
    source = _general().lambdify().source
    assert "for c in range(C, 0, -1):" in source
    assert "grad_K[o - 1, c - 1] = " in source
    assert "K (O_, C, n_p, n_m), K[o, c] for o = 1..O, c = 1..C at K[o-1, c-1]" in " ".join(
        source.split())
    with pytest.raises(ValueError, match="a family of 2 × 3 members"):
        model = sbp.parse(CHANNELS)
        flat = model.unrolled({"O": 2, "C": 3})
        arrays = _stacked(model, random_arrays(flat, default_dims(flat), seed=1),
                          {"O": 2, "C": 3})
        arrays["K"] = arrays["K"][:, :1]
        _general().lambdify()(**arrays)


def test_what_backward_keeps_grows_with_the_output_channels():
    text = _general().memory().text()
    assert "  Y_o for o = 1, …, O: n p entries each\n" in text
    assert "in all: O n p entries" in text


#: A kernel read at a fixed input channel, and kernels of a width per output channel.
FIXED_INDEX = CHANNELS.replace("sum(K[o, c] @ X[c] for c in 1..C)", "K[o, 1] @ X[1]")
WIDTHS = CHANNELS.replace("dim n, m, p, O, C\n", "dim n, m, O, C\ndim q[o] for o in 1..O\n") \
    .replace("param K[o, c]: matrix(p, m)", "param K[o, c]: matrix(q[o], m)") \
    .replace(" + b[o])", ")")


@pytest.mark.parametrize("text", [FIXED_INDEX, WIDTHS], ids=["fixed index", "widths"])
def test_what_the_general_form_does_not_take_is_derived_written_out(text):
    assert text != CHANNELS
    model = sbp.parse(text, "channels.sbp")
    assert isinstance(model, WrittenOutModel)
    assert "not yet in general form" in model.why.message
    assert (model.why.line, model.why.filename) == ((6 if text is FIXED_INDEX else 4),
                                                    "channels.sbp")
    flat = model.unrolled({"O": 2, "C": 2})
    assert sbp.check(flat).ok


#: The other way round: a loop over the input channels, a sum over the output channels, and
#: a penalty summed over both indices.
TRANSPOSED = """\
dim n, m, p, O, C
input Y[o]: matrix(p, n) for o in 1..O
param K[o, c]: matrix(p, m) for o in 1..O, c in 1..C
for c in 1..C:
    G[c] = tanh(sum(K[o, c].T @ Y[o] for o in 1..O))
J = sum(sum(G[c]) for c in 1..C) + sum(sum(norm(K[o, c])^2 for c in 1..C) for o in 1..O)
objective J
"""


@pytest.mark.parametrize("lengths", SIZES, ids=lambda s: f"O{s['O']}C{s['C']}")
def test_a_sum_over_the_first_index_inside_a_loop_over_the_second(lengths):
    model = sbp.parse(TRANSPOSED)
    d = sbp.derive(model)
    text = d.text(prod=False, shapes=False, inputs=True)
    assert "J = (Σ_{c=1}^{C} sum(G_c)) + Σ_{o=1}^{O} Σ_{c=1}^{C} ‖K_{o,c}‖²" in text
    assert "∂J/∂Y_o = Σ_{c=1}^{C} K_{o,c} (∂J/∂G_c ⊙ (1 - G_c^⊙2))" in text
    assert d.prove(lengths).ok and d.prove_printed(lengths, notation=EVERY_STEP).ok
    flat = model.unrolled(lengths)
    values = random_arrays(flat, default_dims(flat), seed=2)
    J_torch, g_torch = torch_value_and_grad(flat, values, [n for n in flat.variables
                                                          if n.startswith("K_")])
    outs, ins = range(1, lengths["O"] + 1), range(1, lengths["C"] + 1)
    J, grads = d.lambdify()(Y=np.stack([values[f"Y_{o}"] for o in outs]),
                            K=np.stack([np.stack([values[f"K_{o}_{c}"] for c in ins])
                                        for o in outs]))
    assert relative_error(J, J_torch) <= 1e-12
    for o in outs:
        for c in ins:
            assert relative_error(grads["K"][o - 1, c - 1], g_torch[f"K_{o}_{c}"]) <= 1e-12
