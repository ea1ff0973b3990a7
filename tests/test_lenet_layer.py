"""A LeNet-style layer on a minibatch (benchmarks/lenet_layer.sbp): proved, and its generated
NumPy code against ``torch.nn.functional.conv2d`` with weights of shape (O, 1, p, p) and
``max_pool2d``, float64.

The model is written with a loop over the images of the batch and a sum over the output
channels; its loop code (``lambdify`` of the general derivation) takes the images as one
array (B, n, n), the read-out weights as (B, O, q, q) and the kernels as (O, p, p).
"""

from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from reference import relative_error, torch_or_skip

MODEL = Path(__file__).resolve().parent.parent / "benchmarks" / "lenet_layer.sbp"


@pytest.fixture(scope="module")
def d():
    return sbp.derive(sbp.load(MODEL))


def test_the_layer_prints_its_batch_sum_and_channel_sum(d):
    text = d.text(prod=False, shapes=False)
    assert "J_b = Σ_{o=1}^{O} sum(C_{b,o} ⊙ maxpool(relu(X_b ⋆ K_o + β_o (𝟏 𝟏ᵀ)), 2))" in text
    assert "  for o = O, …, 1:\n    ∂L/∂K_o = Σ_{b=1}^{B} X_b ⋆ (" in text


def test_the_general_derivation_is_proved_against_the_written_out_one(d):
    report = d.prove({"B": 2, "O": 2})
    assert report.ok, str(report)


def test_the_printed_general_formulas_and_h_v_read_back(d):
    # the bias's 𝟏 𝟏ᵀ has the size of an unnamed convolution, 2q × 2q
    report = d.prove_printed({"B": 2, "O": 2})
    assert report.ok and report.counts["text"] == 7, str(report.failures)
    hvp = sbp.derive_hvp(d)  # the batch's members J_b are scalars the tangents differentiate in
    assert hvp.prove({"B": 2, "O": 2}).ok
    assert hvp.prove_printed({"B": 2, "O": 2}).ok
    assert "<math" in d.html()


@pytest.mark.parametrize("B, outs, q, p", [(1, 1, 2, 3), (2, 3, 3, 3), (3, 2, 2, 5)])
def test_the_generated_code_agrees_with_conv2d_and_max_pool2d(d, B, outs, q, p):
    torch = torch_or_skip()
    F = torch.nn.functional
    n = 2 * q + p - 1
    rng = np.random.default_rng(100 * B + 10 * outs + p)
    X = rng.standard_normal((B, n, n))
    C = rng.standard_normal((B, outs, q, q))
    K = rng.standard_normal((outs, p, p))
    beta = rng.standard_normal(outs)
    J, grads = d.lambdify(wrt=["K", "beta", "X", "C"])(X=X, C=C, K=K, beta=beta)
    tX, tC, tK, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True)
                      for a in (X, C, K, beta))
    P = F.max_pool2d(torch.relu(F.conv2d(tX[:, None], tK[:, None], tb)), 2)
    tJ = (tC * P).sum()
    tJ.backward()
    assert relative_error(J, tJ.item()) <= 1e-12
    for name, tensor in (("K", tK), ("beta", tb), ("X", tX), ("C", tC)):
        assert grads[name].shape == tensor.shape, name
        assert relative_error(grads[name], tensor.grad.numpy()) <= 1e-12, name


def test_the_kernel_and_the_bias_gradients_share_one_loop_over_the_batch(d):
    from symbackprop.printing.loop_code import generate_loop_source
    backward = generate_loop_source(d).split("def value_and_grad")[1].split("del J\n")[1]
    # both sums read the same window products at each image: computed once, in one loop
    assert backward.count("for b in range(B, 0, -1):") == 2  # ∂L/∂J_b, then the two sums
    assert backward.count("_correlate(X[b - 1], K[o - 1], 1)") == 1
    assert backward.count("_maxpool_mask(") == 1
    body = backward.split("grad_beta[o - 1] = 0.0\n")[1]
    assert "grad_K[o - 1] += " in body and "grad_beta[o - 1] += " in body
