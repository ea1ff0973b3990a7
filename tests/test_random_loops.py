"""Random models with loops, written as .sbp text, and what every one must satisfy.

The strategy :func:`looped_models` writes a random recurrence over T steps or a random
network of L layers in the language itself: a family computed in a loop from the
member before it (``h[t-1]``, ``h[l-1]``) through a random combination of matrix
products, biases, gates and entrywise functions, sometimes with a skip connection, and
an objective that adds a random loss at every step (or only at the last), scaled by
``/ T`` or not, with or without weight decay over a family of weights.

Properties, each at several lengths: the general derivation put at the length equals
the derivation of the model written out (formula by formula, entry by entry); every
formula printed for it (text and LaTeX), and for its H v, reads back equal at every
index; and the looped NumPy code gives the written-out model's numbers, which agree
with finite differences and PyTorch autograd.  Each property replays a fixed set of
examples (tests/profiles.py).
"""

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.evaluation import initialised
from symbackprop.proofs.sizes import default_dims
from profiles import examples
from layouts import differentiable, looped
from reference import relative_error, torch_value_and_grad

#: Entrywise functions a step may apply, all smooth (relu's kink would make finite
#: differences at a random point a matter of luck).
ACTIVATIONS = ("tanh", "sigmoid", "softplus", "")


@st.composite
def recurrences(draw):
    """A recurrence over T steps: its text."""
    bias, gate, skip = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    act = draw(st.sampled_from(ACTIVATIONS))
    readout = draw(st.booleans())
    lines = ["# a random recurrence", "dim d, n, q, T",
             "input x[t]: vector(d) for t in 1..T", "const h0: vector(n)",
             "param A: matrix(n, d)", "param B: matrix(n, n)"]
    lines += ["param b: vector(n)"] if bias else []
    lines += ["param G: matrix(n, d)"] if gate else []
    lines += ["param C: matrix(q, n)"] if readout else []
    width = "q" if readout else "n"
    lines += [f"input y[t]: vector({width}) for t in 1..T"]
    decay = draw(st.booleans())
    lines += ["const lambda: scalar"] if decay else []
    pre = "A @ x[t] + B @ h[t-1]" + (" + b" if bias else "")
    step = f"{act}(a[t])" if act else "a[t]"
    if gate:
        step = f"sigmoid(G @ x[t]) * {step}"
    if skip:
        step = f"{step} + h[t-1]"
    lines += ["h[0] = h0", "for t in 1..T:", f"    a[t] = {pre}", f"    h[t] = {step}"]
    out = "h"
    if readout:
        lines += ["    o[t] = C @ h[t]"]
        out = "o"
    loss = draw(st.sampled_from([f"squared_error({out}[t], y[t])", f"sum({out}[t] * y[t])",
                                 f"sum(tanh({out}[t]) * y[t])"]))
    every = draw(st.booleans())
    total = f"sum({loss} for t in 1..T)" if every else loss.replace("[t]", "[T]")
    if every and draw(st.booleans()):
        total += " / T"
    if decay:
        total += " + lambda / 2 * norm(B)^2"
    lines += [f"L = {total}", "objective L"]
    return "\n".join(lines) + "\n"


@st.composite
def networks(draw):
    """A network of L layers, a family of weights: its text."""
    bias, skip = draw(st.booleans()), draw(st.booleans())
    act = draw(st.sampled_from(ACTIVATIONS))
    decay = draw(st.booleans())
    lines = ["# a random network", "dim n, L", "input x: vector(n)", "input y: vector(n)",
             "param W[l]: matrix(n, n) for l in 1..L"]
    lines += ["param b[l]: vector(n) for l in 1..L"] if bias else []
    lines += ["const lambda: scalar"] if decay else []
    pre = "W[l] @ h[l-1]" + (" + b[l]" if bias else "")
    step = f"{act}(z[l])" if act else "z[l]"
    if skip:
        step = f"{step} + h[l-1]"
    lines += ["h[0] = x", "for l in 1..L:", f"    z[l] = {pre}", f"    h[l] = {step}"]
    total = draw(st.sampled_from(["squared_error(h[L], y)", "sum(tanh(h[L]) * y)"]))
    if decay:
        total += " + lambda / 2 * sum(norm(W[l])^2 for l in 1..L)"
    lines += [f"J = {total}", "objective J"]
    return "\n".join(lines) + "\n"


def looped_models():
    return st.one_of(recurrences(), networks())


def _derived(text):
    note(text)
    return sbp.derive(sbp.parse(text, "<random>"))


def _at(model, k):
    return {n: k for n in model.lengths}


@settings(max_examples=examples(30))
@given(text=looped_models())
def test_the_general_derivation_is_the_written_out_one(text):
    d = _derived(text)
    for k in (1, 2, 3):
        report = d.prove(_at(d.model, k))
        assert report.ok, str(report)


@settings(max_examples=examples(30))
@given(text=looped_models())
def test_the_printed_general_formulas_read_back(text):
    d = _derived(text)
    for k in (2, 3):
        report = d.prove_printed(_at(d.model, k), formats=("text", "LaTeX"))
        assert report.ok, str(report)


@settings(max_examples=examples(15))
@given(text=looped_models())
def test_the_printed_tangents_read_back(text):
    hvp = sbp.derive_hvp(_derived(text))
    report = hvp.prove_printed(formats=("text", "LaTeX"))
    assert report.ok, str(report)


@settings(max_examples=examples(20))
@given(text=looped_models(), length=st.sampled_from([1, 2, 4]))
def test_the_looped_code_gives_the_written_out_numbers(text, length):
    model = sbp.parse(text, "<random>", bind={})
    note(text)
    lengths = _at(model, length)
    flat = model.unrolled(lengths)
    assert sbp.check(flat).ok
    values = initialised(flat, random_arrays(flat, default_dims(flat), seed=3))
    wrt = [n for n, v in flat.variables.items() if v.role in ("param", "input")]
    J_flat, g_flat = sbp.derive(flat).lambdify(wrt=wrt)(**values)
    J_torch, g_torch = torch_value_and_grad(flat, values, wrt)
    assert relative_error(J_flat, J_torch) <= 1e-12
    J, grads = sbp.derive(model).lambdify(wrt=differentiable(model))(
        **looped(model, values, lengths))
    assert relative_error(J, J_flat) <= 1e-12
    expected = looped(model, g_flat, lengths)
    for name in differentiable(model):
        got, want = np.asarray(grads[name]), np.asarray(expected[name])
        assert got.shape == want.shape and relative_error(got, want) <= 1e-12, name
    for name in wrt:
        assert relative_error(g_flat[name], g_torch[name]) <= 1e-9, name


def test_the_strategies_write_both_kinds_and_every_choice():
    """The fixed examples cover recurrences and networks, gates, skips and decay."""
    seen = []

    @settings(max_examples=examples(40))
    @given(text=looped_models())
    def collect(text):
        seen.append(text)

    collect()
    joined = "\n".join(seen)
    for piece in ("dim d, n, q, T", "dim n, L", "sigmoid(G @ x[t])", "+ h[t-1]", "+ h[l-1]",
                  "norm(B)^2", "sum(norm(W[l])^2", "/ T", "[T]", "o[t] = C @ h[t]"):
        assert piece in joined, piece
    for text in seen:
        assert isinstance(sbp.parse(text, "<random>"), sbp.LoopModel), text
