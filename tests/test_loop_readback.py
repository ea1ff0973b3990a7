"""The printed general derivation of models with loops, read back at every index.

Every loop example's text, LaTeX and Markdown read back equal at several lengths and in
every notation; and the proof catches what a wrong printer would print: a shifted index,
a heading one step too long, a sum with the wrong bounds, a closed form with the wrong
power, a sum whose extent admits two readings.
"""

from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.printing.loops import loop_latex, loop_text
from symbackprop.printing.names import Notation
from symbackprop.proofs.index_reading import Family, Indices, Spelling, index_value, read_at
from symbackprop.proofs.loop_readback import prove_printed_loops
from symbackprop.proofs.readback import printed_equations
from symbackprop.proofs.reading import ReadError, Value, Vocabulary

EXAMPLES = sorted(Path("examples/loops").glob("*.sbp"))


def _derivation(path):
    return sbp.derive(sbp.load(path))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_printed_formula_reads_back_at_the_check_length(path):
    # the inputs' adjoints too (shown on request): each rule is read back where it is printed
    report = prove_printed_loops(_derivation(path), notation=Notation(inputs=True))
    assert report.ok, str(report)
    assert set(report.counts) == {"text", "LaTeX", "Markdown"}
    assert min(report.counts.values()) >= 10


@pytest.mark.parametrize("length", [1, 2, 5])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_and_at_other_lengths(path, length):
    d = _derivation(path)
    report = prove_printed_loops(d, {n: length for n in d.model.lengths}, formats=("text",),
                                 notation=Notation(inputs=True))
    assert report.ok, str(report)


@pytest.mark.parametrize("notation", [sbp.Notation(bold="mathbf"), sbp.Notation(transpose="T"),
                                      sbp.Notation(transpose="mathsf"),
                                      sbp.Notation(shapes=False), sbp.Notation(nabla=True)],
                         ids=["mathbf", "T", "mathsf", "no-shapes", "nabla"])
@pytest.mark.parametrize("name", ["bptt", "mlp_layers_batch", "gru"])
def test_in_every_notation(name, notation):
    report = prove_printed_loops(_derivation(f"examples/loops/{name}.sbp"), notation=notation)
    assert report.ok, str(report)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_printed_tangent_reads_back(path):
    hvp = sbp.derive_hvp(_derivation(path))
    report = sbp.prove_printed(hvp)
    assert report.ok, str(report)
    assert min(report.counts.values()) > len(hvp.backward)  # the tangents were read
    assert hvp.prove_printed({n: 2 for n in hvp.derivation.model.lengths},
                             formats=("text",)).ok


HVP_MUTATIONS = [  # (example, printed, misprinted, what the proof says)
    ("bptt", "W_hh R{h_{t-1}}", "W_hh R{h_t}", "not equal"),
    ("bptt", "W_hhᵀ R{∂L/∂h_{t+1}}", "W_hhᵀ (∂L/∂h_{t+1})", "not equal"),
    ("mlp_layers", "λ V_{W⁽ˡ⁾}", "λ V_{W⁽ˡ⁻¹⁾}", "no reading"),  # V_{W⁽⁰⁾} at l = 1
    ("mlp_layers_batch", "𝟏 v_{b⁽ˡ⁾}ᵀ", "𝟏 V_{b⁽ˡ⁾}ᵀ", "cannot read"),  # a vector's is v
]


@pytest.mark.parametrize("name, printed, misprinted, why", HVP_MUTATIONS)
def test_a_misprinted_tangent_fails(name, printed, misprinted, why):
    hvp = sbp.derive_hvp(_derivation(f"examples/loops/{name}.sbp"))
    text = hvp.text()
    assert printed in text
    wrong = text.replace(printed, misprinted, 1)
    report = hvp.prove_printed(formats=("text",), documents={"text": (wrong, False)})
    assert not report.ok
    assert why in report.failures[0][2], str(report)


def test_the_package_reads_back_either_kind_of_derivation():
    loops = sbp.prove_printed(_derivation("examples/loops/mlp_layers.sbp"), lengths={"L": 4})
    plain = sbp.prove_printed(_derivation("examples/textbook_mlp.sbp"), formats=("text",))
    assert loops.ok and plain.ok
    assert loops.counts["LaTeX"] == 9 and plain.counts == {"text": 17}


def test_the_headings_and_stated_ranges_are_what_is_read():
    d = _derivation("examples/loops/rnn_tanh_steps.sbp")
    for document, latex in ((loop_text(d), False), (loop_latex(d), True)):
        ranges = {e.lhs: e.ranges for e in printed_equations(document, latex)}
        lhs = "∂L/∂h_{t-1}" if not latex else \
            "\\frac{\\partial L}{\\partial \\boldsymbol{h}_{t-1}}"
        assert ranges[lhs] == (("t", "T", "2"),)  # its own range, not its heading's T, …, 1
        lhs = "∂L/∂W_hh" if not latex else \
            "\\frac{\\partial L}{\\partial \\boldsymbol{W}_{\\mathrm{hh}}}"
        assert ranges[lhs] == ()


def test_an_empty_range_claims_nothing():
    d = _derivation("examples/loops/bptt.sbp")  # ∂L/∂h_t for t = T - 1, …, 1: none at T = 1
    one = prove_printed_loops(d, {"T": 1}, formats=("text",))
    three = prove_printed_loops(d, {"T": 3}, formats=("text",))
    assert one.ok and three.ok
    assert one.counts["text"] == three.counts["text"] - 1


# --- what a wrong printer would print is caught --------------------------------------------

MUTATIONS = [  # (example, printed, misprinted, what the proof says)
    ("bptt", "W_hhᵀ (∂L/∂h_{t+1})", "W_hhᵀ (∂L/∂h_{t-1})", "not equal"),
    ("bptt", "for t = T - 1, …, 1:", "for t = T, …, 1:", "no reading"),  # reads h_{T+1}
    ("bptt", "= Σ_{t=1}^{T} (∂L/∂h_t) h_{t-1}ᵀ", "= Σ_{t=2}^{T} (∂L/∂h_t) h_{t-1}ᵀ",
     "not equal"),
    ("bptt", "(W_hhᵀ)^(T - i) W_qhᵀ (∂L/∂o_{T+t-i}),",
     "(W_hhᵀ)^(T - i + 1) W_qhᵀ (∂L/∂o_{T+t-i}),", "not equal"),
    ("bptt", "(W_hhᵀ)^(T - i) W_qhᵀ (∂L/∂o_{T+t-i}),",
     "(W_hhᵀ)^(T - i) W_qhᵀ (∂L/∂o_{t+i-1}),", "not equal"),
    ("bptt", "L = (1/T) Σ", "L = (1/2) Σ", "not equal"),
    # Σ_t a_t + b with b independent of t: the sum over the rest is another reading
    ("bptt", "= Σ_{t=1}^{T} (∂L/∂o_t) h_tᵀ  ∈",
     "= Σ_{t=1}^{T} (∂L/∂o_t) h_tᵀ + W_qh - Σ_{t=1}^{T} W_qh/T  ∈", "ambiguous"),
    ("rnn_tanh_steps", "(for t = T, …, 2)", "", "no reading"),  # reads o_0 at t = 1
    ("mlp_layers", "W⁽ˡ⁾ᵀ (∂J/∂z⁽ˡ⁾)", "W⁽ˡ⁻¹⁾ᵀ (∂J/∂z⁽ˡ⁾)", "no reading"),
    ("mlp_layers", "(∂J/∂z⁽ˡ⁾) h⁽ˡ⁻¹⁾ᵀ,  l = 1, …, L", "(∂J/∂z⁽ˡ⁾) h⁽ˡ⁾ᵀ,  l = 1, …, L",
     "no reading"),
]


@pytest.mark.parametrize("name, printed, misprinted, why", MUTATIONS)
def test_a_misprinted_formula_fails(name, printed, misprinted, why):
    d = _derivation(f"examples/loops/{name}.sbp")
    text = loop_text(d)
    assert printed in text
    wrong = text.replace(printed, misprinted, 1)
    report = prove_printed_loops(d, formats=("text",), documents={"text": (wrong, False)})
    assert not report.ok
    assert why in report.failures[0][2], str(report)
    right = prove_printed_loops(d, formats=("text",), documents={"text": (text, False)})
    assert right.ok, str(right)


def test_a_misprinted_latex_index_fails():
    d = _derivation("examples/loops/bptt.sbp")
    text = loop_latex(d)
    printed = "{\\boldsymbol{h}_{t-1}}^\\top \\in"
    assert printed in text
    wrong = text.replace(printed, "{\\boldsymbol{h}_{t}}^\\top \\in")
    report = prove_printed_loops(d, formats=("LaTeX",), documents={"LaTeX": (wrong, True)})
    assert [f[2] for f in report.failures] == ["not equal to "
                                               "\\frac{\\partial L}{\\partial "
                                               "\\boldsymbol{W}_{\\mathrm{hh}}}"]


# --- the reader of indices ----------------------------------------------------------------

def test_index_arithmetic():
    bound = {"T": 5, "t": 2, "i": 4, "l": 3}
    assert index_value("t", bound) == (2,)
    assert index_value("T+t-i", bound) == (3,)
    assert index_value("T - 1", bound) == (4,)
    assert index_value("l-1,t", bound) == (2, 2)
    assert index_value("0", bound) == (0,)
    for unreadable in ("2*t", "t t", "", "s", "t+", "(t)"):
        assert index_value(unreadable, bound) is None, unreadable


def _members():
    h = {k: np.array([[float(k + 1)]]) for k in range(4)}
    family = Family((Spelling("h_", ""), Spelling("h⁽", "⁾", superscripts=True)),
                    lambda k: [Value(h[k[0]])] if k[0] in h else [])
    return Vocabulary({"b": [Value(np.array([[10.0]]))]}, sizes=(1,)), \
        Indices((family,), variables=("t",), lengths={"T": 3})


def test_members_sums_and_indices_as_values():
    vocabulary, indices = _members()

    def value(formula, **bound):
        return [v.item() for v in read_at(formula, vocabulary, indices, bound)]

    assert value("h_t", t=2) == [3.0]
    assert value("h_{t-1} h⁽ᵗ⁾", t=2) == [6.0]
    assert value("Σ_{t=1}^{T} h_t") == [2.0 + 3.0 + 4.0]
    assert value("Σ_{i=1}^{t} h_i", t=2) == [5.0]  # a sum's own index
    assert value("T h_0 / t", t=2) == [1.5]
    # a product after Σ is its body; a term after + may be too: two readings
    assert value("Σ_{t=1}^{T} h_t b") == [90.0]
    assert sorted(value("Σ_{t=1}^{T} h_t + b")) == [19.0, 39.0]


@pytest.mark.parametrize("formula", ["h_t", "h_{t+1}", "Σ_{t=1}^{T} h_{t+1}",
                                     "Σ_{t=1}^{T} h_t h_s", "Σ_{t=2}^{1} h_t"])
def test_an_unbound_or_missing_member_is_no_reading(formula):
    vocabulary, indices = _members()
    with pytest.raises(ReadError):
        read_at(formula, vocabulary, indices, {"t": 3} if formula == "h_{t+1}" else {})


def test_check_of_a_model_with_loops_proves_numbers_derivation_and_print(capsys):
    from symbackprop.cli import main
    status = main(["check", "examples/loops/bptt.sbp", "--bind", "ell=squared_error"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith("The model written out at T = 3:\ncheck: ")
    assert "general derivation at T = 3: 29 formulas agree" in out
    assert "printed formulas: text 16/16, LaTeX 16/16 read back equal" in out


def test_derive_writes_a_model_with_loops_in_nabla_notation(capsys):
    from symbackprop.cli import main
    assert main(["derive", "examples/loops/bptt.sbp", "--nabla", "--no-prod"]) == 0
    out = capsys.readouterr().out
    assert "∇_{h_t} L = W_qhᵀ (∇_{o_t} L) + W_hhᵀ (∇_{h_{t+1}} L)" in out
    assert main(["derive", "examples/loops/bptt.sbp", "--nabla", "--format", "tex"]) == 0
    assert "\\nabla_{\\boldsymbol{h}_{t+1}} L" in capsys.readouterr().out
