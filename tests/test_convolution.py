"""Convolution and pooling at many sizes, strides and paddings, proved every way.

``test_operators.py`` has one row per operator at symbolic sizes; here each of
conv1d, conv2d, maxpool2d and avgpool2d is taken at concrete sizes with strides
and paddings (a stride that leaves rows out of every window included), and each
case is proved by finite differences, entry by entry against ``sympy.diff``,
against PyTorch's ``conv1d``/``conv2d``/``max_pool2d``/``avg_pool2d`` in float64
(gradients and H·v), and by reading its printed formulas back.  Then what is
particular to the family: a tie in max pooling goes where PyTorch sends it, the
generated code loops over no entry, and the options of a call are checked where
they are written.
"""

import re

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop import derive_hvp
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.verify import verify_hvp
from reference import relative_error, torch_hvp, torch_or_skip, torch_value_and_grad

#: (input shape, kernel shape, options) of a convolution: objective sum(C ⊙ tanh(Y)).
CONVOLUTIONS = {
    "conv2d 6x5 by 3x2": ("matrix(6, 5)", "matrix(3, 2)", ""),
    "conv2d 5x5 by 5x5": ("matrix(5, 5)", "matrix(5, 5)", ""),
    "conv2d stride 2": ("matrix(7, 7)", "matrix(3, 3)", ", stride=2"),
    "conv2d stride 2, rows left out": ("matrix(6, 7)", "matrix(3, 2)", ", stride=2"),
    "conv2d stride 3, rows left out": ("matrix(8, 7)", "matrix(3, 3)", ", 3"),
    "conv2d pad 1": ("matrix(4, 5)", "matrix(3, 3)", ", pad=1"),
    "conv2d pad 2, a kernel of 2": ("matrix(3, 4)", "matrix(2, 2)", ", pad=2"),
    "conv2d stride 2, pad 1": ("matrix(6, 5)", "matrix(3, 3)", ", stride=2, pad=1"),
    "conv2d symbolic stride": ("matrix(2*n + 1, 2*m + 3)", "matrix(3, 3)", ", stride=2"),
    "conv1d": ("vector(7)", "vector(3)", ""),
    "conv1d stride 2, pad 1": ("vector(8)", "vector(3)", ", stride=2, pad=1"),
    "conv1d symbolic": ("vector(n + m)", "vector(m)", ""),
}

POOLS = {
    "maxpool2d 2": ("matrix(4, 6)", "maxpool2d(X, 2)"),
    "maxpool2d 3": ("matrix(6, 3)", "maxpool2d(X, 3)"),
    "avgpool2d 2": ("matrix(4, 2)", "avgpool2d(X, 2)"),
    "avgpool2d symbolic": ("matrix(2*n, 2*m)", "avgpool2d(X, k=2)"),
    "conv, relu, pool": ("matrix(6, 6)", "maxpool2d(relu(conv2d(X, K)), 2)"),
}


def _convolution_model(case):
    x, k, options = CONVOLUTIONS[case]
    op = "conv1d" if x.startswith("vector") else "conv2d"
    probe = sbp.parse(f"dim n, m\nparam X: {x}\nparam K: {k}\nY = {op}(X, K{options})\n"
                      "J = sum(Y)\nobjective J")
    shape = probe.variables["Y"].shape
    return sbp.parse(f"dim n, m\nparam X: {x}\nparam K: {k}\ninput C: {shape}\n"
                     f"Y = {op}(X, K{options})\nJ = sum(C * tanh(Y))\nobjective J\n",
                     filename=case)


def _pool_model(case):
    x, expression = POOLS[case]
    return sbp.parse(f"dim n, m\nparam X: {x}\nparam K: matrix(3, 3)\nparam b: scalar\n"
                     f"P = {expression}\ninput C: {{}}\nJ = sum(C * tanh(P))\n"
                     "objective J\n".replace("{}", _pool_shape(x, expression)), filename=case)


def _pool_shape(x, expression):
    probe = sbp.parse(f"dim n, m\nparam X: {x}\nparam K: matrix(3, 3)\nparam b: scalar\n"
                      f"P = {expression}\nJ = sum(P)\nobjective J")
    return str(probe.variables["P"].shape)


MODELS = {**{c: _convolution_model for c in CONVOLUTIONS}, **{c: _pool_model for c in POOLS}}
SMALL = {"n": 2, "m": 3}


def _model(case):
    return MODELS[case](case)


@pytest.mark.parametrize("case", MODELS)
def test_finite_differences(case):
    for seed in (0, 1):
        report = sbp.check(_model(case), dims=SMALL, seed=seed)
        assert report.ok, str(report)
        assert set(report.errors) >= {"X"}


@pytest.mark.parametrize("case", MODELS)
def test_entry_by_entry(case):
    report = sbp.verify(_model(case), dims=SMALL)
    assert report.ok, str(report)
    assert report.entries["X"] > 0


@pytest.mark.parametrize("case", MODELS)
def test_pytorch_gradients(case):
    model = _model(case)
    d = sbp.derive(model)
    wrt = list(d.params)
    for seed in (0, 1, 2):
        arrays = random_arrays(model, default_dims(model, SMALL), seed)
        J, grads = d.lambdify(wrt=wrt)(**arrays)
        J_torch, grads_torch = torch_value_and_grad(model, arrays, wrt)
        assert relative_error(J, J_torch) <= 1e-12
        for name in wrt:
            assert relative_error(grads[name], grads_torch[name]) <= 1e-12, (name, seed)


@pytest.mark.parametrize("case", MODELS)
def test_pytorch_hvp(case):
    model = _model(case)
    hvp = derive_hvp(sbp.derive(model))
    arrays = random_arrays(model, default_dims(model, SMALL), 3)
    rng = np.random.default_rng(4)
    v = {n: (float(rng.standard_normal()) if np.ndim(arrays[n]) == 0
             else rng.standard_normal(np.shape(arrays[n]))) for n in hvp.wrt}
    _, _, products = hvp.lambdify()(v, **arrays)
    expected = torch_hvp(model, arrays, v)
    for name in hvp.wrt:
        assert relative_error(products[name], expected[name]) <= 1e-12, name


@pytest.mark.parametrize("case", ["conv2d stride 2, pad 1", "conv1d stride 2, pad 1",
                                  "maxpool2d 2"])
def test_hvp_entry_by_entry(case):
    report = verify_hvp(_model(case), dims=SMALL, prove=False)
    assert report.ok, str(report)
    assert report.entries["X"] > 0


@pytest.mark.parametrize("case", MODELS)
def test_printed_formulas_read_back(case):
    d = sbp.derive(_model(case))
    report = sbp.prove_printed(d)
    assert report.ok, str(report)
    hvp_report = sbp.prove_printed(derive_hvp(d))
    assert hvp_report.ok, str(hvp_report)


def test_a_bias_broadcast_to_an_unnamed_convolution_reads_back():
    # 𝟏 𝟏ᵀ is the size of X ⋆ K, 2q × 2q, which no named value has: the reader must still try it
    d = sbp.derive(sbp.parse(
        "dim q, p\ninput X: matrix(2*q + p - 1, 2*q + p - 1)\ninput C: matrix(q, q)\n"
        "param K: matrix(p, p)\nparam b: scalar\nJ = sum(C * maxpool2d(conv2d(X, K) + b, 2))\n"
        "objective J\n"))
    assert "J = sum(C ⊙ maxpool(X ⋆ K + b (𝟏 𝟏ᵀ), 2))" in d.text(shapes=False)
    report = sbp.prove_printed(d)
    assert report.ok and report.counts["text"] == 5, str(report)


def test_the_rules_print_as_a_lecture_writes_them():
    d = sbp.derive(_model("conv2d 6x5 by 3x2"))
    assert d.pretty(d.step("K").result) == "X ⋆ ∂J/∂Y"
    assert d.pretty(d.step("X").result) == "pad(∂J/∂Y, 2, 1) ⋆ rot180(K)"
    strided = sbp.derive(_model("conv2d stride 2, pad 1"))
    assert strided.pretty(strided.forward["Y"]) == "pad(X, 1, 1) ⋆₂ K"
    # the last row of the padded X is in no window: cropped in ∂J/∂K, and padded for in ∂J/∂X
    assert strided.pretty(strided.step("K").result) == "pad(X, 1, 0, 1, 1) ⋆ dilate(∂J/∂Y, 2)"
    assert strided.pretty(strided.step("X").result) == \
        "pad(dilate(∂J/∂Y, 2), 1, 2, 1, 1) ⋆ rot180(K)"
    pooled = sbp.derive(_model("maxpool2d 2"))
    assert pooled.pretty(pooled.step("X").result) == \
        "𝟙[X ≥ upsample(P, 2)] ⊙ upsample(∂J/∂P, 2)"
    assert "\\star" in d.latex() and "\\operatorname{rot180}" in d.latex()


def test_a_tie_in_max_pooling_goes_to_the_first_max_as_in_pytorch():
    model = _pool_model("maxpool2d 2")
    d = sbp.derive(model)
    arrays = random_arrays(model, default_dims(model), 0)
    X = arrays["X"].copy()
    X[0:2, 0:2] = 1.5  # a tie of four
    X[2:4, 2:4] = [[0.5, 2.0], [2.0, -1.0]]  # a tie of two, not in the first row
    arrays["X"] = X
    _, grads = d.lambdify(wrt=["X"])(**arrays)
    _, expected = torch_value_and_grad(model, arrays, ["X"])
    assert np.array_equal(grads["X"] != 0, expected["X"] != 0)
    assert relative_error(grads["X"], expected["X"]) <= 1e-14
    assert np.count_nonzero(grads["X"][0:2, 0:2]) == 1 and grads["X"][0, 0] != 0


def test_the_generated_code_loops_over_no_entry():
    # the model's functions loop over nothing; a helper loops at most over the entries of a
    # kernel (range(p), range(r)) or the k x k offsets of a pooling window (range(k)), each
    # step whole-array NumPy: never over the entries of an image
    for case in ("conv2d stride 2, pad 1", "conv, relu, pool"):
        source = sbp.derive(_model(case)).lambdify().source
        assert "sliding_window_view" in source
        assert "for " not in source.split("\ndef objective(")[1], case
        loops = re.findall(r"\bfor \w+ in ([^:]+):", source)
        assert loops and set(loops) <= {"range(p)", "range(r)", "range(k)"}, case
        assert source.count("for ") == len(loops), case


def _helpers():
    """The window helpers a generated module defines, compiled (they import NumPy only)."""
    from symbackprop.printing.windows import HELPERS
    namespace = {"np": np}
    for helper in HELPERS:
        exec(compile(helper, "<helper>", "exec"), namespace)
    return namespace


#: (image, kernel, stride) for each way the generated _correlate computes: both small
#: (tensordot), a small kernel over a large output (a loop over the kernel's entries, with
#: a stride too), a large kernel and a small output (einsum, with a stride too), columns
@pytest.mark.parametrize("image, kernel, stride", [
    ((9, 8), (3, 2), 1), ((64, 70), (3, 3), 1), ((131, 130), (5, 4), 2), ((70, 64), (64, 60), 1),
    ((140, 130), (64, 60), 2), ((260, 1), (3, 1), 1), ((260, 1), (257, 1), 1)])
def test_the_correlation_helper_agrees_with_pytorch_every_way_it_computes(image, kernel, stride):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    a, k = rng.standard_normal(image), rng.standard_normal(kernel)
    got = _helpers()["_correlate"](a, k, stride)
    expected = torch.nn.functional.conv2d(torch.tensor(a)[None, None], torch.tensor(k)[None, None],
                                          stride=stride)[0, 0].numpy()
    assert got.shape == expected.shape
    assert relative_error(got, expected) <= 1e-13


#: (image, window) with few windows (reductions over each window's axes) and many (the
#: k² strided views of a window's entries)
@pytest.mark.parametrize("image, k", [((12, 10), 2), ((96, 64), 8), ((64, 72), 2),
                                      ((128, 128), 4)])
def test_the_pooling_helpers_agree_with_pytorch_ties_included(image, k):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, image).astype(np.float64)  # three values: ties in most windows
    g = rng.standard_normal((image[0] // k, image[1] // k))
    helpers = _helpers()
    t = torch.tensor(a, requires_grad=True)
    pooled = torch.nn.functional.max_pool2d(t[None, None], k)[0, 0]
    routed, = torch.autograd.grad((pooled * torch.tensor(g)).sum(), t)
    assert np.array_equal(helpers["_maxpool"](a, k), pooled.detach().numpy())
    assert np.array_equal(helpers["_upsample"](g, k), np.kron(g, np.ones((k, k))))
    assert np.array_equal(helpers["_maxpool_mask"](a, k), (routed.numpy() != 0).astype(float))
    top = helpers["_maxpool"](a, k)
    assert np.array_equal(helpers["_masked_upsample"](a, top, g, k), routed.numpy())


@pytest.mark.parametrize("text, message, col", [
    ("Y = conv2d(X, K, stride=0)", "the option stride of conv2d is a whole number, at least "
     "1", 25),
    ("Y = conv2d(X, K, pad=0.5)", "whole number, at least 0", 22),
    ("Y = conv2d(X, K, dilation=2)", "conv2d has no option 'dilation'", 18),
    ("Y = conv2d(X, K, 2, stride=2)", "the option 'stride' of conv2d is given twice", 21),
    ("Y = conv2d(X, K, stride=2, 1)", "an argument given by position after one given by name",
     28),
    ("Y = tanh(X, k=2)", "tanh takes no argument by name, not 'k='", 13),
    ("Y = maxpool2d(X)", "maxpool2d needs its option k", 5),
    ("Y = maxpool2d(X, 4)", "the window 4 does not divide the size 6", 5),
    ("Y = conv2d(X, X.T)", "the kernel's 6 entries are more than the 5", 5),
    ("Y = conv2d(X, K, stride=2, pad=1)", "the stride 2 must divide", 5),
    ("Y = conv1d(X, K)", "conv1d takes two vectors, conv2d two matrices", 5),
])
def test_errors_say_where(text, message, col):
    source = (f"dim d\nparam X: matrix(6, 5)\nparam K: matrix(d, 2)\n{text}\nJ = sum(Y)\n"
              "objective J\n")
    with pytest.raises(sbp.ModelError) as err:
        sbp.parse(source)
    assert message in str(err.value)
    assert f":4:{col}:" in str(err.value)
