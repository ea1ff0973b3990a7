"""The model zoo: every ``examples/*.sbp`` is derived and proved three ways.

Each example (found by a glob, so a new one is tested without editing this
file) must start with a ``#`` comment saying what it teaches, and its
gradients must agree with central finite differences (:func:`sbp.check`),
with SymPy's entrywise derivatives (:func:`sbp.verify`) and with PyTorch
autograd (the independent reference in ``reference.py``).
"""

from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.proofs.check import TOLERANCE, random_arrays
from symbackprop.proofs.sizes import default_dims
from reference import relative_error, torch_value_and_grad

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PATHS = sorted(EXAMPLES.glob("*.sbp"))
IDS = [p.stem for p in PATHS]

#: Built-ins for the abstract functions an example declares, by example name.
BIND = {
    "textbook_mlp": {"phi": "tanh", "ell": "squared_error"},
    "mlp_bias": {"phi": "relu", "ell": "cross_entropy"},
}

#: Sizes for verify: every dim 2 unless listed here.  Verify cost grows fast
#: with size; these keep each example to a few seconds.
VERIFY_DIMS = {
    # softmax over rows of Q K^T: every dim 2 takes ~75 s of sympy.simplify;
    # n = 2 keeps a real row-wise softmax, d = 1 keeps it to ~3 s.
    "self_attention": {"n": 2, "d": 1, "k": 2},
    # a 4 x 6 image through a 3 x 3 kernel and 2 x 2 pooling: ~15 s
    "conv2d_pool": {"h": 1, "w": 2, "q": 2},
}

def _load(path, bound=True):
    return sbp.load(path, bind=BIND.get(path.stem) if bound else None)


def test_the_zoo_is_there():
    expected = {"mlp_minibatch", "mlp_bias", "linear_regression", "softmax_regression",
                "deep_mlp", "rnn_bptt", "self_attention", "logistic_regression",
                "autoencoder_tied", "matrix_factorization", "gated_unit"}
    assert expected <= set(IDS)
    assert set(BIND) <= set(IDS) and set(VERIFY_DIMS) <= set(IDS)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_first_line_is_a_comment(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("#") and len(first.lstrip("# ")) > 10, first


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_parses_and_derives(path):
    model = _load(path)
    assert not model.unbound, f"add {model.unbound} to BIND[{path.stem!r}]"
    d = sbp.derive(model)
    # one step per param and input, and every param's gradient has no adjoint left in it
    for name, v in model.variables.items():
        if v.role in ("param", "input"):
            assert d.step(name).node == name
    for name in d.params:
        symbols = {s.name for s in d.gradient(name).free_symbols}
        assert not any(s.startswith("∂") for s in symbols), (name, symbols)
    assert d.text()


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_check(path):
    model = _load(path)
    report = sbp.check(model)
    wrt = {n for n, v in model.variables.items() if v.role in ("param", "input")}
    assert set(report.errors) == wrt
    assert report.ok, str(report)
    assert max(report.errors.values()) <= TOLERANCE == 1e-7


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_verify(path):
    model = _load(path)
    dims = VERIFY_DIMS.get(path.stem, {name: 2 for name in model.dims})
    # no time limit: the verdict must not depend on the machine's speed or load (the limit
    # itself is tested in tests/test_verify.py)
    report = sbp.verify(model, dims=dims, timeout=None)
    assert report.ok, str(report)
    assert set(report.entries) == {n for n, v in model.variables.items()
                                   if v.role in ("param", "input")}
    if path.stem in BIND:
        # abstract functions left abstract: the derivation itself is proved
        report = sbp.verify(_load(path, bound=False), dims=dims)
        assert report.ok, str(report)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_pytorch_autograd_agrees(path):
    model = _load(path)
    d = sbp.derive(model)
    arrays = random_arrays(model, default_dims(model), seed=1)
    wrt = [n for n, v in model.variables.items() if v.role in ("param", "input")]
    J, grads = d.lambdify(wrt=wrt)(**arrays)
    J_torch, grads_torch = torch_value_and_grad(model, arrays, wrt)
    assert np.isfinite(J) and relative_error(J, J_torch) <= 1e-12
    assert set(d.params) <= set(grads)
    for name in wrt:
        assert np.shape(grads[name]) == np.shape(arrays[name]), name  # the param's own shape
        assert relative_error(grads[name], grads_torch[name]) <= 1e-9, name
