"""Section 8 of ``benchmarks/run.py``: a LeNet-style convolutional layer, float64.

The layer: a 28 × 28 image, a 5 × 5 kernel and a bias (conv2d), ReLU, 2 × 2 max pooling,
and ``J = sum(C ⊙ P)`` with a random weighting C of the 12 × 12 pooled map, over a batch
of 64 images; the kernel's and the bias's gradients are summed over the batch.

The model language has single-channel convolutions and one-index families, so the
layer is written for one image and one channel (``examples``-style, below); a batch is
64 calls of the generated ``value_and_grad``, a Python loop over the images (never over
pixels), and one output channel stands for the eight of LeNet: PyTorch and the
hand-written NumPy im2col backward are timed on the same 1 → 1 channel layer, batched.
"""

from __future__ import annotations

import numpy as np

import symbackprop as sbp

MODEL = """\
input X: matrix(28, 28)
input C: matrix(12, 12)
param K: matrix(5, 5)
param b: scalar
Z = conv2d(X, K) + b
H = relu(Z)
P = maxpool2d(H, 2)
J = sum(C * P)
objective J
"""

BATCH = 64


def _im2col(X, k):
    """The k × k windows of a batch (B, n, m) as rows: (B, n - k + 1, m - k + 1, k * k)."""
    windows = np.lib.stride_tricks.sliding_window_view(X, (k, k), axis=(1, 2))
    return windows.reshape(*windows.shape[:3], k * k)


def hand_value_and_grad(X, C, K, b):
    """The layer over the batch by hand: im2col, a product, ReLU, pooling and back."""
    B, k = X.shape[0], K.shape[0]
    cols = _im2col(X, k)                                    # (B, 24, 24, 25)
    Z = cols @ K.reshape(-1) + b                            # (B, 24, 24)
    H = np.maximum(Z, 0.0)
    n = H.shape[1] // 2
    blocks = H.reshape(B, n, 2, n, 2).transpose(0, 1, 3, 2, 4).reshape(B, n, n, 4)
    first = np.argmax(blocks, axis=3)
    P = np.take_along_axis(blocks, first[..., None], axis=3)[..., 0]
    J = float(np.sum(C * P))
    grad_blocks = np.zeros_like(blocks)
    np.put_along_axis(grad_blocks, first[..., None], C[..., None], axis=3)
    grad_H = grad_blocks.reshape(B, n, n, 2, 2).transpose(0, 1, 3, 2, 4).reshape(H.shape)
    grad_Z = grad_H * (Z > 0)
    grad_K = np.tensordot(grad_Z, cols, axes=([0, 1, 2], [0, 1, 2])).reshape(k, k)
    return J, grad_K, float(np.sum(grad_Z))


def bench(row, note, interleaved, rel):
    """Time the generated layer against PyTorch and by hand; add rows to the table."""
    section = "8 conv layer 28x28, 5x5, pool 2, n=64"
    d = sbp.derive(sbp.parse(MODEL, "lenet_layer"))
    f = d.lambdify()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, 28, 28))
    C = rng.standard_normal((BATCH, 12, 12))
    K, b = rng.standard_normal((5, 5)) / 5, 0.1

    def generated():
        J, gK, gb = 0.0, np.zeros((5, 5)), 0.0
        for i in range(BATCH):
            value, grads = f(X=X[i], C=C[i], K=K, b=b)
            J, gK, gb = J + value, gK + grads["K"], gb + grads["b"]
        return J, gK, gb

    def by_hand():
        return hand_value_and_grad(X, C, K, b)

    J, gK, gb = generated()
    hJ, hK, hb = by_hand()
    assert rel(J, hJ) <= 1e-10 and rel(gK, hK) <= 1e-10 and rel(gb, hb) <= 1e-10, \
        "the hand-written im2col backward disagrees with the generated gradients"
    candidates = {"generated": generated, "hand": by_hand}
    try:
        import torch
    except ImportError:
        note("section 8: PyTorch is not installed; its ratio is left out")
        torch = None
    if torch is not None:
        F = torch.nn.functional
        tX, tC = torch.tensor(X[:, None]), torch.tensor(C)

        def pytorch():
            tK = torch.tensor(K[None, None], requires_grad=True)
            tb = torch.tensor([b], dtype=torch.float64, requires_grad=True)
            P = F.max_pool2d(torch.relu(F.conv2d(tX, tK, tb)), 2)[:, 0]
            value = torch.sum(tC * P)
            value.backward()
            return float(value.detach()), tK.grad.numpy()[0, 0], float(tb.grad[0])

        tJ, tK, tb = pytorch()
        assert rel(J, tJ) <= 1e-10 and rel(gK, tK) <= 1e-10, "PyTorch disagrees"
        candidates["pytorch"] = pytorch
    times, spread, _, repeats, _ = interleaved(candidates, budget=20.0)
    if "pytorch" in times:
        row(section, "generated / PyTorch autograd (64 calls / one batched call)",
            f"{times['generated'] / times['pytorch']:.2f}", "<= 2.0",
            times["generated"] / times["pytorch"] <= 2.0)
    row(section, "generated / hand-written NumPy im2col backward (batched)",
        f"{times['generated'] / times['hand']:.2f}")
    row(section, "generated, per batch of 64", f"{times['generated'] * 1e3:.1f} ms")
    note(f"section 8: one channel (1 -> 1) for LeNet's 1 -> 8, the batch as 64 calls of the "
         f"generated function; {repeats} repeats, spread of the generated "
         f"{100 * spread['generated']:.0f}%")
