"""Loops over layers and time: the language, the general derivation, and its proofs.

The two models of the reference (../shared/reference/textbook-loops.md) parse as
written; their backward derivations print the book's recurrences; and the
general derivation, put at concrete lengths, equals the derivation of the model
written out at those lengths, which is proved like every model: finite
differences, SymPy's entry-by-entry derivatives and PyTorch autograd.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.language.looped import WrittenOutModel
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.sizes import default_dims
from reference import relative_error, torch_value_and_grad
from typeset import compile_together

LOOPS = Path(__file__).resolve().parent.parent / "examples" / "loops"

#: As the issue writes them, character for character.
BPTT = """\
# Vanilla RNN, backpropagation through time
dim d, h, q, T
input x[t]: vector(d) for t in 1..T
input y[t]: vector(q) for t in 1..T
const h0: vector(h)
param W_hx: matrix(h, d)
param W_hh: matrix(h, h)
param W_qh: matrix(q, h)
func ell(o, y)
h[0] = h0
for t in 1..T:
    h[t] = W_hx @ x[t] + W_hh @ h[t-1]
    o[t] = W_qh @ h[t]
L = sum(ell(o[t], y[t]) for t in 1..T) / T
objective L
"""

LAYERS = """\
dim L
dim n[l] for l in 0..L
input x: vector(n[0])
input y: vector(n[L])
param W[l]: matrix(n[l], n[l-1]) for l in 1..L
const lambda: scalar
func phi
func ell(o, y)
h[0] = x
for l in 1..L:
    z[l] = W[l] @ h[l-1]
    h[l] = phi(z[l])
J = ell(h[L], y) + lambda / 2 * sum(norm(W[l])^2 for l in 1..L)
objective J
"""

BIND = {"bptt": {"ell": "squared_error"}, "layers": {"phi": "tanh", "ell": "squared_error"}}


def _model(which, bind=False):
    return sbp.parse(BPTT if which == "bptt" else LAYERS, bind=BIND[which] if bind else None)


def _backward_lines(d, **options):
    text = d.text(prod=False, shapes=False, **options)
    return text.split("Backward")[1].split("Closed form")[0].split("Gradients")[0].splitlines()


# --- the language ---------------------------------------------------------------------------

def test_the_examples_are_the_models_of_the_reference():
    assert (LOOPS / "bptt.sbp").read_text() == BPTT
    assert (LOOPS / "mlp_layers.sbp").read_text().split("\n", 1)[1] == LAYERS


def test_the_rnn_parses_into_families_and_loops():
    m = _model("bptt")
    assert isinstance(m, sbp.LoopModel) and m.lengths == ("T",)
    shapes = {name: str(f.shape) for name, f in m.families.items()}
    assert shapes == {"x": "vector(d)", "y": "vector(q)", "h": "vector(h)", "o": "vector(q)"}
    assert [(str(lo), str(hi)) for lo, hi in m.families["h"].ranges] == [("0", "0"), ("1", "T")]
    assert [(a.target, [str(i) for i in a.index]) for a in m.assignments] == [
        ("h", ["0"]), ("h", ["t"]), ("o", ["t"]), ("L", [])]
    assert [str(r.hi) for r in m.assignments[1].loops] == ["T"]


def test_the_layers_have_a_width_each():
    m = _model("layers")
    assert m.lengths == ("L",) and list(m.dim_families) == ["n"]
    w, h = m.families["W"], m.families["h"]
    assert str(w.shape) == "matrix(n[l], n[l - 1])"
    assert str(h.shape_at(sp.Symbol("l", integer=True) - 1)) == "vector(n[l - 1])"
    assert str(m.variables["y"].shape) == "vector(n[L])"


def test_written_out_it_is_a_model_without_loops():
    flat = _model("layers").unrolled({"L": 2})
    assert isinstance(flat, sbp.Model) and list(flat.dims) == ["n_0", "n_1", "n_2"]
    assert str(flat.variables["W_2"].shape) == "matrix(n_2, n_1)"
    assert [a.target for a in flat.assignments] == ["h_0", "z_1", "h_1", "z_2", "h_2", "J"]
    with pytest.raises(ValueError, match="T is not a length"):
        _model("layers").unrolled({"T": 2})
    with pytest.raises(ValueError, match="positive whole number"):
        _model("layers").unrolled({"L": 0})


@pytest.mark.parametrize("edit, line, col, message", [
    (("h[t-1]", "h[t+1]"), 12, 33, "h[2] is read before it is defined (at t = 1)"),
    (("x[t] +", "x[t-1] +"), 12, 19, "x[0] is outside the family 'x', which runs over 1..3"),
    (("h[t-1]", "h[2*t]"), 12, 36, "an index is a loop variable plus or minus an integer"),
    (("x[t] +", "xx[t] +"), 12, 19, "unknown family 'xx'; did you mean 'x'?"),
    (("W_hx @ x[t]", "W_hx @ x"), 12, 19, "'x' is a family: name one member, x[...]"),
    (("    o[t] =", "  o[t] ="), 13, 3, "indentation matches no enclosing block"),
    (("h[0] = h0\n", "h[0] = h0\nh[0] = h0\n"), 11, 1, "h[0] is already defined at line 10"),
    (("for t in 1..T:", "for t in 1..T"), 11, 14, "expected ':' at the end of the loop's line"),
    (("for t in 1..T:", "for d in 1..T:"), 11, 1, "the index 'd' already names"),
    (("h[0] = h0\n", "    h[0] = h0\n"), 10, 5, "unexpected indentation"),
])
def test_mistakes_in_loops_are_located(edit, line, col, message):
    text = BPTT.replace(*edit)
    assert text != BPTT
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(text, "rnn.sbp")
    first = caught.value
    assert (first.line, first.col) == (line, col), str(first)
    assert message in first.message
    assert first.filename == "rnn.sbp"
    assert len(first.errors) == 1, [str(e) for e in first.errors]  # one mistake, one error


def test_a_shape_error_in_a_loop_body_points_into_the_body():
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(BPTT.replace("W_qh @ h[t]", "W_qh @ x[t]"))
    assert (caught.value.line, caught.value.col) == (13, 17)
    assert len(caught.value.errors) == 1


# --- the derivation, for a general index ----------------------------------------------------

def test_backpropagation_through_time_as_the_book_writes_it():
    d = sbp.derive(_model("bptt"))
    assert isinstance(d, sbp.LoopDerivation)
    lines = [line.strip() for line in _backward_lines(d)]
    assert lines[1:] == [
        "for t = T, …, 1:",
        "∂L/∂o_t = (1/T) (∂ℓ/∂o_t)",
        "∂L/∂W_qh = Σ_{t=1}^{T} (∂L/∂o_t) h_tᵀ",
        "∂L/∂h_T = W_qhᵀ (∂L/∂o_T)",
        "for t = T - 1, …, 1:",
        "∂L/∂h_t = W_qhᵀ (∂L/∂o_t) + W_hhᵀ (∂L/∂h_{t+1})",
        "∂L/∂W_hx = Σ_{t=1}^{T} (∂L/∂h_t) x_tᵀ",
        "∂L/∂W_hh = Σ_{t=1}^{T} (∂L/∂h_t) h_{t-1}ᵀ",
        "",
    ]
    # the inputs' adjoints, beyond the book, on request
    assert [line.strip() for line in _backward_lines(d, inputs=True)][1:] == lines[1:-1] + [
        "for t = T, …, 1:",
        "∂L/∂y_t = (1/T) (∂ℓ/∂y_t)",
        "∂L/∂x_t = W_hxᵀ (∂L/∂h_t)",
        "",
    ]
    assert d.valid_from == 1


def test_the_four_equations_of_an_l_layer_network():
    d = sbp.derive(_model("layers"))
    lines = [line.strip() for line in _backward_lines(d)]
    assert lines[1:] == [
        "∂J/∂h⁽ᴸ⁾ = ∂ℓ/∂h⁽ᴸ⁾",
        "for l = L, …, 1:",
        "∂J/∂z⁽ˡ⁾ = ∂J/∂h⁽ˡ⁾ ⊙ φ'(z⁽ˡ⁾)",
        "∂J/∂h⁽ˡ⁻¹⁾ = W⁽ˡ⁾ᵀ (∂J/∂z⁽ˡ⁾)",
        "∂J/∂W⁽ˡ⁾ = λ W⁽ˡ⁾ + (∂J/∂z⁽ˡ⁾) h⁽ˡ⁻¹⁾ᵀ",
        "",
    ]
    assert [line.strip() for line in _backward_lines(d, inputs=True)][-3:] == [
        "∂J/∂y = ∂ℓ/∂y", "∂J/∂x = ∂J/∂h⁽⁰⁾", ""]


def test_the_chain_rule_lines_name_the_consumer_member():
    text = sbp.derive(_model("bptt")).text()
    assert ("∂L/∂h_t = prod(∂L/∂o_t, ∂o_t/∂h_t) + prod(∂L/∂h_{t+1}, ∂h_{t+1}/∂h_t)"
            in text)
    assert "∂L/∂W_hh = Σ_{t=1}^{T} prod(∂L/∂h_t, ∂h_t/∂W_hh)" in text
    assert "= W_qhᵀ (∂L/∂o_t) + W_hhᵀ (∂L/∂h_{t+1})  ∈ ℝ^h" in text
    layers = sbp.derive(_model("layers")).text()
    assert "∂J/∂h⁽ˡ⁻¹⁾ = prod(∂J/∂z⁽ˡ⁾, ∂z⁽ˡ⁾/∂h⁽ˡ⁻¹⁾) = W⁽ˡ⁾ᵀ (∂J/∂z⁽ˡ⁾)  ∈ ℝ^n_{l-1}" in layers
    assert "∈ ℝ^(n_l×n_{l-1})" in layers


def test_the_derivation_does_not_grow_with_the_length():
    d = sbp.derive(_model("bptt"))
    assert len(d.steps) == 9  # the seed, o, W_qh, h (a boundary and a recurrence), W_hx,
    # W_hh, y and x: once each, whatever T
    assert {s.node for s in d.steps} == {"L", "o", "W_qh", "h", "W_hx", "W_hh", "y", "x"}


# --- proved at concrete lengths -------------------------------------------------------------

@pytest.mark.parametrize("which, lengths", [("bptt", {"T": k}) for k in (1, 2, 3, 5)]
                         + [("layers", {"L": k}) for k in (1, 2, 3)])
def test_the_general_derivation_at_a_length_is_the_written_out_one(which, lengths):
    d = sbp.derive(_model(which))
    report = d.prove(lengths)
    assert report.ok, str(report)
    written = d.unrolled(lengths)
    assert {str(s.adjoint) for s in written.steps} <= set(report.compared)


def test_a_wrong_recurrence_is_caught():
    d = sbp.derive(_model("bptt"))
    steps = list(d.steps)
    k = next(i for i, s in enumerate(steps) if s.node == "h" and str(s.lo) == "1")
    untransposed = steps[k].result.replace(
        lambda e: isinstance(e, sp.Transpose) and str(e.arg) == "W_hh", lambda e: e.arg)
    steps[k] = dataclasses.replace(steps[k], result=untransposed)
    d.steps = tuple(steps)
    report = d.prove({"T": 3})
    # the closed form, found from the wrong recurrence, is wrong with it
    assert not report.ok and set(report.differing) == {
        "∂L/∂h_1", "∂L/∂h_2", "closed form of ∂L/∂h_1", "closed form of ∂L/∂h_2",
        "closed form of ∂L/∂W_hx", "closed form of ∂L/∂W_hh"}


def test_a_missing_boundary_is_caught():
    d = sbp.derive(_model("bptt"))
    d.steps = tuple(s for s in d.steps if not (s.node == "h" and str(s.lo) == "T"))
    report = d.prove({"T": 3})
    assert not report.ok and report.missing == ("∂L/∂h_3",)


@pytest.mark.parametrize("which, lengths", [("bptt", {"T": k}) for k in (1, 2, 5)]
                         + [("layers", {"L": k}) for k in (1, 3)])
def test_numbers_agree_with_finite_differences_and_pytorch(which, lengths):
    flat = _model(which, bind=True).unrolled(lengths)
    report = sbp.check(flat)
    assert report.ok, str(report)
    assert np.isfinite(_agrees_with_pytorch(sbp.derive(flat)))


def _agrees_with_pytorch(d, seed=3):
    """The objective of a written-out derivation's code, its value and every gradient
    checked against PyTorch autograd on the same model."""
    flat = d.model
    arrays = random_arrays(flat, default_dims(flat), seed=seed)
    wrt = [n for n, v in flat.variables.items() if v.role in ("param", "input")]
    J, grads = d.lambdify(wrt=wrt)(**arrays)
    J_torch, grads_torch = torch_value_and_grad(flat, arrays, wrt)
    assert relative_error(J, J_torch) <= 1e-12
    for name in wrt:
        assert relative_error(grads[name], grads_torch[name]) <= 1e-9, name
    return J


@pytest.mark.parametrize("which, lengths", [("bptt", {"T": 2}), ("layers", {"L": 2})])
def test_written_out_it_is_proved_entry_by_entry(which, lengths):
    flat = _model(which).unrolled(lengths)
    report = sbp.verify(flat, dims={name: 2 for name in flat.dims})
    assert report.ok, str(report)


# --- in print -------------------------------------------------------------------------------

def test_the_latex_compiles(tmp_path):
    fragments = {f"{which} {notation}": sbp.derive(_model(which)).latex(**options)
                 for which in ("bptt", "layers")
                 for notation, options in (("default", {}), ("mathbf", {"bold": "mathbf",
                                                                         "transpose": "T"}))}
    compile_together(tmp_path, fragments)
    tex = fragments["layers default"]
    assert "{\\boldsymbol{W}^{(l)}}^\\top \\frac{\\partial J}{\\partial \\boldsymbol{z}^{(l)}}" \
        in tex
    assert "\\sum_{t=1}^{T}" in fragments["bptt default"]
    assert "For $t = T - 1, \\dots, 1$:" in fragments["bptt default"]


def test_the_markdown_has_the_loop_headings():
    md = sbp.derive(_model("bptt")).markdown()
    assert "For $t = T - 1, \\dots, 1$:" in md and md.startswith("**Forward pass.**")


# --- the command line -----------------------------------------------------------------------

def test_the_command_line_derives_in_general_and_written_out(capsys):
    path = str(LOOPS / "bptt.sbp")
    assert main(["derive", path, "--no-prod"]) == 0
    assert "∂L/∂h_t = W_qhᵀ (∂L/∂o_t) + W_hhᵀ (∂L/∂h_{t+1})" in capsys.readouterr().out
    assert main(["derive", path, "--no-prod", "--unroll", "T=2"]) == 0
    assert "∂L/∂h_1 = W_qhᵀ (∂L/∂o_1) + W_hhᵀ (∂L/∂h_2)" in capsys.readouterr().out
    assert main(["check", path, "--unroll", "T=2", "--bind", "ell=squared_error"]) == 0
    capsys.readouterr()
    assert main(["verify", path]) == 2  # entry by entry: written out at a length only
    assert "--unroll T=3" in capsys.readouterr().err
    assert main(["derive", str(LOOPS.parent / "textbook_mlp.sbp"), "--unroll", "T=2"]) == 2
    assert "has no loops" in capsys.readouterr().err
    assert main(["derive", path, "--memory"]) == 0
    assert "What backward keeps" in capsys.readouterr().out
    assert main(["derive", path, "--substituted"]) == 2
    assert "not yet for a model with loops" in capsys.readouterr().err
    assert main(["memory", path]) == 0
    assert "in all: T h + T q + h entries" in capsys.readouterr().out


# --- the closed form of a linear recurrence -------------------------------------------------

def test_the_linear_recurrence_unrolls_as_the_book_writes_it():
    text = sbp.derive(_model("bptt")).text(prod=False, shapes=False)
    closed = text.split("Closed form")[1].split("Gradients")[0]
    assert "∂L/∂h_t = Σ_{i=t}^{T} (W_hhᵀ)^(T - i) W_qhᵀ (∂L/∂o_{T+t-i}),  t = 1, …, T" in closed
    assert ("∂L/∂W_hh = Σ_{t=1}^{T} (Σ_{i=t}^{T} (W_hhᵀ)^(T - i) W_qhᵀ (∂L/∂o_{T+t-i})) "
            "h_{t-1}ᵀ") in closed
    tex = sbp.derive(_model("bptt")).latex()
    assert "\\left({\\boldsymbol{W}_{\\mathrm{hh}}}^\\top\\right)^{T - i}" in tex


def test_no_closed_form_through_an_activation():
    tanh = BPTT.replace("h[t] = W_hx @ x[t] + W_hh @ h[t-1]",
                        "h[t] = tanh(W_hx @ x[t] + W_hh @ h[t-1])")
    d = sbp.derive(sbp.parse(tanh))
    assert d.closed_forms == () and "Closed form" not in d.text()
    assert sbp.derive(_model("layers")).closed_forms == ()
    assert d.prove({"T": 3}).ok


def test_a_wrong_closed_form_is_caught():
    d = sbp.derive(_model("bptt"))
    (form,) = d.closed_forms
    wrong = form.result.replace(lambda e: isinstance(e, sp.MatPow),
                                lambda e: sp.MatPow(e.base, e.exp + 1))
    d.__dict__["closed_forms"] = (dataclasses.replace(form, result=wrong, gradients={}),)
    report = d.prove({"T": 3})
    assert set(report.differing) == {"closed form of ∂L/∂h_1", "closed form of ∂L/∂h_2",
                                     "closed form of ∂L/∂h_3"}


# --- what backward keeps --------------------------------------------------------------------

@pytest.mark.parametrize("which, length", [("bptt", "T"), ("layers", "L")])
def test_what_backward_keeps_is_what_the_written_out_program_keeps(which, length):
    from symbackprop.printing.memory import memory_report
    model = _model(which)
    report = sbp.derive(model).memory()
    for k in (1, 2, 3, 4):
        flat = sbp.derive(model.unrolled({length: k}))
        kept = sum((v.elements for v in memory_report(flat).values
                    if v.kept_for_backward and v.role == "forward"), sp.Integer(0))
        widths = {base[j]: flat.model.dims[f"{name}_{j}"]
                  for name, base in model.dim_families.items() for j in range(k + 1)}
        assert sp.expand(report.at({length: k}, widths) - kept) == 0, k


def test_the_memory_argument_is_printed_from_the_model():
    rnn = sbp.derive(_model("bptt")).memory().text()
    assert "h_t for t = 0, …, T: h entries each" in rnn
    assert "in all: T h + T q + h entries" in rnn and "grows linearly with T" in rnn
    layers = sbp.derive(_model("layers")).memory().text()
    assert "z⁽ˡ⁾ for l = 1, …, L: n_l entries each" in layers
    assert "grows linearly with L" in layers
    batch = BPTT.replace("vector(d)", "matrix(n, d)").replace("vector(q)", "matrix(n, q)") \
        .replace("vector(h)", "matrix(n, h)").replace("dim d,", "dim n, d,") \
        .replace("W_hx @ x[t] + W_hh @ h[t-1]", "x[t] @ W_hx.T + h[t-1] @ W_hh.T") \
        .replace("W_qh @ h[t]", "h[t] @ W_qh.T")
    total = sbp.derive(sbp.parse(batch)).memory().total
    n, T = sp.Symbol("n", integer=True, positive=True), sp.Symbol("T", integer=True,
                                                                   positive=True)
    assert sp.degree(total, n) == 1 and sp.degree(total, T) == 1  # linear in batch and length


# --- second order ---------------------------------------------------------------------------

def test_the_tangents_are_recurrences_with_the_same_pieces():
    hvp = sbp.derive_hvp(sbp.derive(_model("bptt")))
    assert isinstance(hvp, sbp.LoopHVPDerivation)
    text = hvp.text()
    assert "R{h_t} = V_W_hx x_t + V_W_hh h_{t-1} + W_hh R{h_{t-1}}" in text
    assert "R{h_0} = 0" in text
    assert ("R{∂L/∂h_t} = V_W_qhᵀ (∂L/∂o_t) + W_qhᵀ R{∂L/∂o_t} + V_W_hhᵀ (∂L/∂h_{t+1}) + "
            "W_hhᵀ R{∂L/∂h_{t+1}}") in text
    assert "R{∂L/∂W_hh} = Σ_{t=1}^{T} (R{∂L/∂h_t} h_{t-1}ᵀ + (∂L/∂h_t) R{h_{t-1}}ᵀ)" in text
    layers = sbp.derive_hvp(sbp.derive(_model("layers"))).text()
    assert "R{∂J/∂W⁽ˡ⁾} = λ V_{W⁽ˡ⁾} + R{∂J/∂z⁽ˡ⁾} h⁽ˡ⁻¹⁾ᵀ + (∂J/∂z⁽ˡ⁾) R{h⁽ˡ⁻¹⁾}ᵀ" in layers


@pytest.mark.parametrize("which, lengths", [("bptt", {"T": k}) for k in (1, 2, 3)]
                         + [("layers", {"L": k}) for k in (1, 2, 3)])
def test_the_general_tangents_at_a_length_are_the_written_out_ones(which, lengths):
    report = sbp.derive_hvp(sbp.derive(_model(which))).prove(lengths)
    assert report.ok, str(report)
    assert len(report.compared) >= 6


def test_a_wrong_tangent_is_caught():
    hvp = sbp.derive_hvp(sbp.derive(_model("bptt")))
    forward = list(hvp.forward)
    k = next(i for i, s in enumerate(forward) if s.loops and s.node == "h")
    dropped = forward[k].result.args[:-1]  # R{h_t} without W_hh R{h_{t-1}}
    forward[k] = dataclasses.replace(forward[k], result=sp.MatAdd(*dropped))
    wrong = dataclasses.replace(hvp, forward=tuple(forward))
    report = wrong.prove({"T": 2})
    assert not report.ok and "R{h_2}" in report.differing


def test_the_tangents_latex_compiles(tmp_path):
    compile_together(tmp_path, {which: sbp.derive_hvp(sbp.derive(_model(which))).latex()
                                for which in ("bptt", "layers")})


# --- the examples with loops ----------------------------------------------------------------

LOOP_EXAMPLES = sorted(LOOPS.glob("*.sbp"))


def test_the_loop_examples_are_there():
    assert {p.stem for p in LOOP_EXAMPLES} >= {"bptt", "mlp_layers", "rnn_tanh", "rnn_tanh_steps",
                                               "gru", "mlp_layers_batch"}


@pytest.mark.parametrize("path", LOOP_EXAMPLES, ids=lambda p: p.stem)
def test_every_loop_example_is_derived_in_general_and_proved(path):
    assert path.read_text().splitlines()[0].startswith("# ")  # what it teaches
    d = sbp.derive(sbp.load(path))
    lengths = d.model.lengths  # one, or two for a family of two indices (channels)
    for k in (1, 2, 3):
        report = d.prove({length: k for length in lengths})
        assert report.ok, str(report)
    report = sbp.derive_hvp(d).prove({length: 2 for length in lengths})
    assert report.ok, str(report)
    assert "for " in d.text()


def test_a_part_of_a_loop_is_written_in_the_loop():
    # the GRU's h_0 is a const: dJ/dh_{t-1} holds for t = T, ..., 2, inside the loop over t
    text = sbp.derive(sbp.load(LOOPS / "gru.sbp")).text(prod=False, shapes=False)
    loop = text.split("for t = T, …, 1:")[1].split("∂J/∂W_z")[0]
    assert "∂J/∂z_t =" in loop and "∂J/∂h_{t-1} = " in loop
    assert loop.rstrip().endswith("(for t = T, …, 2)")


def test_every_loop_example_compiles_in_latex(tmp_path):
    compile_together(tmp_path, {p.stem: sbp.derive(sbp.load(p)).latex() for p in LOOP_EXAMPLES})


# --- two indices: layers over time, written out ---------------------------------------------

STACKED = LOOPS / "written_out" / "stacked_rnn.sbp"


def test_a_family_of_two_indices_has_no_general_form_yet_and_says_where():
    model = sbp.load(STACKED)
    assert isinstance(model, WrittenOutModel) and model.lengths == ("T", "L")
    with pytest.raises(sbp.ModelError) as err:
        sbp.derive(model)
    assert (err.value.line, err.value.col) == (12, 5)
    assert "2 indices" in err.value.message and "--unroll T=3,L=3" in err.value.message


@pytest.mark.parametrize("lengths", [{"L": 1, "T": 1}, {"L": 2, "T": 3}])
def test_a_stacked_rnn_written_out_agrees_with_finite_differences_and_pytorch(lengths):
    flat = sbp.load(STACKED, bind={"phi": "tanh", "ell": "squared_error"}).unrolled(lengths)
    assert sbp.check(flat).ok
    d = sbp.derive(flat)
    assert sbp.prove_printed(d, formats=("text", "LaTeX")).ok
    _agrees_with_pytorch(d)
    # a member of two indices prints with both: h_{1,2}, \boldsymbol{h}_{1,2}
    assert "h_{1,1} = tanh(W_1 h_{0,1} + U_1 h_{1,0})" in d.text(prod=False)
    assert "\\boldsymbol{h}_{1,1} &=" in d.latex()


LOSS_AT_THE_END = """dim d, n, q, T
input x[t]: vector(d) for t in 1..T
const h0: vector(n)
param A: matrix(n, d)
param B: matrix(n, n)
param C: matrix(q, n)
input y[t]: vector(q) for t in 1..T
h[0] = h0
for t in 1..T:
    a[t] = A @ x[t] + B @ h[t-1]
    h[t] = tanh(a[t])
    o[t] = C @ h[t]
L = squared_error(o[T], y[T])
objective L
"""


def test_a_zero_piece_is_shown_where_another_step_reads_it():
    d = sbp.derive(sbp.parse(LOSS_AT_THE_END))
    text = d.text(prod=False, shapes=False, inputs=True)
    # ∂L/∂h_{t-1} reads ∂L/∂o_{t-1}: its zero piece is printed; y's, read by none, is not
    assert "  for t = T - 1, …, 1:\n    ∂L/∂o_t = 0\n" in text
    assert "∂L/∂h_{t-1} = Cᵀ (∂L/∂o_{t-1}) + Bᵀ (∂L/∂a_t)" in text
    backward, gradients = text.split("Gradients")
    assert "∂L/∂y_t" not in backward and "∂L/∂y_T = -(o_T - y_T)" in backward
    assert "∂L/∂y_t = 0,  t = 1, …, T - 1\n  ∂L/∂y_T = -(o_T - y_T)\n" in gradients
    for k in (1, 2, 3):  # the written-out model has no step for ∂L/∂o_1 or ∂L/∂y_1: both 0
        assert d.prove({"T": k}).ok
    assert d.prove_printed(notation=sbp.Notation(inputs=True)).ok


SUM_OF_MEMBERS = """\
dim n, B
input X[b]: matrix(n, n) for b in 1..B
param K: matrix(n, n)
for b in 1..B:
    J[b] = sum(X[b] * K)
L = sum(J[b] for b in 1..B)
objective L
"""


def test_an_adjoint_that_is_a_number_is_proved_where_the_written_out_steps_write_the_number():
    d = sbp.derive(sbp.parse(SUM_OF_MEMBERS))
    assert "∂L/∂K = Σ_{b=1}^{B} (∂L/∂J_b) X_b" in d.text(prod=False, shapes=False)
    # the written-out ∂L/∂K is X_1 + X_2: ∂L/∂J_1 = 1 stands in it as the number
    for k in (1, 2, 3):
        report = d.prove({"B": k})
        assert report.ok, str(report)
    twice = sbp.derive(sbp.parse(SUM_OF_MEMBERS.replace("L = sum(", "L = 2 * sum(")))
    assert "∂L/∂J_b = 2" in twice.text(prod=False, shapes=False)
    assert twice.prove({"B": 2}).ok
