"""Section 9 of ``benchmarks/run.py``: a LeNet-style convolutional layer, float64.

The layer (``benchmarks/lenet_layer.sbp``): a batch of 64 images of 28 × 28, eight output
channels from one input channel, each a 5 × 5 cross-correlation plus a bias, ReLU and
2 × 2 max pooling, and ``L = Σ_b Σ_o sum(C[b, o] ⊙ P[b, o])`` with random read-out weights
C of the 12 × 12 pooled maps; the kernels' and the biases' gradients are sums over the
batch.

The generated side is the loop code of the general derivation (``lambdify``, the code
``symbackprop codegen benchmarks/lenet_layer.sbp`` prints), called once on the stacked
batch: its loops over the images and the channels are Python loops (never over pixels).
PyTorch autograd and a hand-written NumPy im2col backward compute the same layer batched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import symbackprop as sbp

MODEL = Path(__file__).resolve().parent / "lenet_layer.sbp"
BATCH, CHANNELS, SIZE, KERNEL, POOL = 64, 8, 28, 5, 2


def _im2col(X, k):
    """The k × k windows of a batch (B, n, m) as rows: (B, n - k + 1, m - k + 1, k * k)."""
    windows = np.lib.stride_tricks.sliding_window_view(X, (k, k), axis=(1, 2))
    return windows.reshape(*windows.shape[:3], k * k)


def hand_value_and_grad(X, C, K, beta):
    """The layer over the batch by hand: im2col, one product for every channel, ReLU,
    pooling and back; the pooling adjoint goes to the first max of each window."""
    B, outs, k = X.shape[0], K.shape[0], K.shape[1]
    cols = _im2col(X, k)                                            # (B, 24, 24, 25)
    Z = np.einsum("bijw,ow->boij", cols, K.reshape(outs, -1), optimize=True)
    Z += beta[None, :, None, None]
    H = np.maximum(Z, 0.0)
    n = H.shape[2] // POOL
    blocks = H.reshape(B, outs, n, POOL, n, POOL).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(B, outs, n, n, POOL * POOL)
    first = np.argmax(blocks, axis=4)[..., None]
    P = np.take_along_axis(blocks, first, axis=4)[..., 0]
    J = float(np.vdot(C, P))
    grad_blocks = np.zeros_like(blocks)
    np.put_along_axis(grad_blocks, first, C[..., None], axis=4)
    grad_H = grad_blocks.reshape(B, outs, n, n, POOL, POOL).transpose(0, 1, 2, 4, 3, 5)
    grad_Z = grad_H.reshape(H.shape) * (Z > 0)
    grad_K = np.einsum("boij,bijw->ow", grad_Z, cols, optimize=True).reshape(K.shape)
    return J, grad_K, grad_Z.sum(axis=(0, 2, 3))


def _pytorch(X, C, K, beta):
    """PyTorch autograd on the batched layer, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    F = torch.nn.functional
    tX, tC = torch.tensor(X[:, None]), torch.tensor(C)

    def pytorch():
        tK = torch.tensor(K[:, None], requires_grad=True)
        tb = torch.tensor(beta, requires_grad=True)
        P = F.max_pool2d(torch.relu(F.conv2d(tX, tK, tb)), POOL)
        value = torch.sum(tC * P)
        value.backward()
        return float(value.detach()), tK.grad.numpy()[:, 0], tb.grad.numpy()

    return pytorch


def bench(row, note, interleaved, rel):
    """Time the generated layer against PyTorch and by hand; add rows to the table."""
    section = "9 LeNet layer 1->8 ch, 28x28, 5x5, pool 2, n=64"
    f = sbp.derive(sbp.load(MODEL)).lambdify()
    rng = np.random.default_rng(0)
    pooled = (SIZE - KERNEL + 1) // POOL
    X = rng.standard_normal((BATCH, SIZE, SIZE))
    C = rng.standard_normal((BATCH, CHANNELS, pooled, pooled))
    K = rng.standard_normal((CHANNELS, KERNEL, KERNEL)) / KERNEL
    beta = rng.standard_normal(CHANNELS) / 10

    def generated():
        J, grads = f(X=X, C=C, K=K, beta=beta)
        return J, grads["K"], grads["beta"]

    def by_hand():
        return hand_value_and_grad(X, C, K, beta)

    J, gK, gb = generated()
    hJ, hK, hb = by_hand()
    assert rel(J, hJ) <= 1e-10 and rel(gK, hK) <= 1e-10 and rel(gb, hb) <= 1e-10, \
        "the hand-written im2col backward disagrees with the generated gradients"
    candidates = {"generated": generated, "hand": by_hand}
    pytorch = _pytorch(X, C, K, beta)
    if pytorch is None:
        note("section 9: PyTorch is not installed; its ratio is left out")
    else:
        tJ, tK, tb = pytorch()
        assert rel(J, tJ) <= 1e-10 and rel(gK, tK) <= 1e-10 and rel(gb, tb) <= 1e-10, \
            "PyTorch disagrees with the generated gradients"
        candidates["pytorch"] = pytorch
    times, spread, _, repeats, _ = interleaved(candidates, budget=30.0)
    if "pytorch" in times:
        ratio = times["generated"] / times["pytorch"]
        row(section, "generated / PyTorch autograd (batched)", f"{ratio:.2f}", "<= 2.0",
            ratio <= 2.0)
    row(section, "generated / hand-written NumPy im2col backward (batched)",
        f"{times['generated'] / times['hand']:.2f}")
    row(section, "generated, per batch of 64", f"{times['generated'] * 1e3:.1f} ms")
    note(f"section 9: the loop code of benchmarks/lenet_layer.sbp, one call on the stacked "
         f"batch; {repeats} repeats, spread (IQR / median) generated "
         f"{100 * spread['generated']:.0f}%, hand {100 * spread['hand']:.0f}%"
         + (f", PyTorch {100 * spread['pytorch']:.0f}%" if "pytorch" in spread else ""))
