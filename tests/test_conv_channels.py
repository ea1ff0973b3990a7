"""A convolutional layer of several channels, written with families: proved, and against a
real multi-channel ``torch.nn.functional.conv2d`` (weights of shape (O, C, p, r)).

examples/loops/conv_channels.sbp is derived once for every number of channels, as CNN
lecture notes write it; here its generated NumPy code, given the kernels stacked as PyTorch
holds them, is compared with PyTorch autograd through ``conv2d`` itself, not through a
translation of the model.
"""

from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from reference import relative_error, torch_or_skip

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "loops" / "conv_channels.sbp"
LENGTHS = [{"O": 1, "C": 1}, {"O": 2, "C": 3}, {"O": 3, "C": 2}]


@pytest.fixture(scope="module")
def d():
    return sbp.derive(sbp.load(EXAMPLE))


def test_the_layer_prints_as_lecture_notes_write_it(d):
    text = d.text(prod=False, shapes=False, inputs=True)
    assert "Z_o = b_o (𝟏 𝟏ᵀ) + Σ_{c=1}^{C} X_c ⋆ K_{o,c}" in text
    assert "  for o = O, …, 1, c = C, …, 1:\n    ∂J/∂K_{o,c} = X_c ⋆ ∂J/∂Z_o\n" in text
    assert "∂J/∂X_c = Σ_{o=1}^{O} pad(∂J/∂Z_o, p - 1, r - 1) ⋆ rot180(K_{o,c})" in text


@pytest.mark.parametrize("lengths", LENGTHS, ids=lambda s: f"O{s['O']}C{s['C']}")
def test_the_general_derivation_and_its_print_are_proved(d, lengths):
    assert d.prove(lengths).ok
    report = d.prove_printed(lengths, notation=sbp.Notation(inputs=True))
    assert report.ok, str(report)


@pytest.mark.parametrize("lengths", LENGTHS, ids=lambda s: f"O{s['O']}C{s['C']}")
@pytest.mark.parametrize("n, m, p, r", [(6, 5, 3, 2), (8, 8, 5, 5)])
def test_the_generated_code_agrees_with_a_multichannel_conv2d(d, lengths, n, m, p, r):
    torch = torch_or_skip()
    outs, ins = lengths["O"], lengths["C"]
    rng = np.random.default_rng(outs * 10 + ins + n)
    X = rng.standard_normal((ins, n, m))
    Y = rng.standard_normal((outs, n - p + 1, m - r + 1))
    K = rng.standard_normal((outs, ins, p, r))
    b = rng.standard_normal(outs)
    J, grads = d.lambdify(wrt=["K", "b", "X"])(X=X, Y=Y, K=K, b=b)
    tX, tK, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (X, K, b))
    H = torch.tanh(torch.nn.functional.conv2d(tX[None], tK, tb))[0]
    tJ = ((H - torch.tensor(Y)) ** 2).sum() / 2
    tJ.backward()
    assert relative_error(J, tJ.item()) <= 1e-12
    for name, tensor in (("K", tK), ("b", tb), ("X", tX)):
        assert grads[name].shape == tensor.shape, name
        assert relative_error(grads[name], tensor.grad.numpy()) <= 1e-12, name
