"""Generated code costs what hand-written NumPy costs, and computes the same numbers.

Read off the source of every example (first order, H v, and the looped modules):
no product by an all-ones matrix (a broadcast or a sum over an axis instead), no
1 x 1 matrix product read with ``[0, 0]``, no entrywise function called twice on
the same array within a function; and products of matrices bracketed from their
sizes.  Each rewrite is proved on numbers too: against finite differences at
sizes where a dim is 1 (where a broadcast could silently go wrong), and against
the forms it replaces.
"""

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.primitives import expressions as ex
from symbackprop.printing.matrix_chains import chain_cost, chain_order
from symbackprop.printing.numpy_printer import NumPyPrinter
from test_zoo import BIND

ROOT = Path(__file__).resolve().parents[1]
PATHS = sorted((ROOT / "examples").glob("*.sbp"))
LOOPS = sorted((ROOT / "examples" / "loops").glob("*.sbp"))
LOOP_BIND = {"mlp_layers": {"phi": "tanh", "ell": "squared_error"},
             "mlp_layers_batch": {"phi": "relu", "ell": "cross_entropy"},
             "bptt": {"ell": "squared_error"}}

ENTRYWISE = re.compile(r"(?:np\.(?:tanh|exp|log|log1p|sqrt|maximum|heaviside|logaddexp|sin"
                       r"|cos|abs|sign)|_sigmoid)\(")


def _calls(code):
    """Every entrywise call in `code`, with its operand, as written."""
    for m in ENTRYWISE.finditer(code):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            i += 1
        yield code[m.start():i]


def _functions(source):
    """(name, code without comments) of each generated function."""
    for chunk in source.split("\ndef ")[1:]:
        code = "\n".join(line for line in chunk.splitlines()
                         if not line.strip().startswith("#"))
        yield chunk.split("(")[0], code


def assert_hand_written_costs(source, scalars):
    for name, code in _functions(source):
        if name.startswith("_"):
            continue  # the helpers: _softmax and the like
        assert "np.ones(" not in code, (name, code)
        assert not re.search(r"\)\[0, 0\]", code), (name, code)  # (u.T @ v)[0, 0]
        repeated = [c for c, k in _count(_calls(code)).items() if k > 1
                    and c[c.index("(") + 1:-1] not in scalars]
        assert not repeated, (name, repeated)


def _count(items):
    counts = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _scalars(model):
    return {n for n, v in model.variables.items() if v.shape.is_scalar}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_the_examples_pay_no_cost_a_hand_writer_would_not(path):
    model = sbp.load(path, bind=BIND.get(path.stem))
    d = sbp.derive(model)
    assert_hand_written_costs(d.lambdify().source, _scalars(model))
    assert_hand_written_costs(sbp.derive_hvp(d).lambdify().source, _scalars(model))


@pytest.mark.parametrize("path", LOOPS, ids=lambda p: p.stem)
def test_the_looped_examples_pay_no_cost_a_hand_writer_would_not(path):
    model = sbp.load(path, bind=LOOP_BIND.get(path.stem))
    assert_hand_written_costs(sbp.derive(model).lambdify().source, _scalars(model))


def _value_and_grad(path):
    source = sbp.derive(sbp.load(path, bind=BIND.get(path.stem))).lambdify().source
    return source.split("def value_and_grad")[1].split("\ndef ")[0]


def test_a_bias_is_broadcast_and_its_gradient_summed_over_the_batch():
    code = _value_and_grad(ROOT / "examples" / "softmax_regression.sbp")
    assert "O_ = X @ W + b.T" in code
    assert "grad_b = np.sum(grad_O_.T, axis=1, keepdims=True)" in code
    code = _value_and_grad(ROOT / "examples" / "linear_regression.sbp")
    assert "yhat = X @ w + b\n" in code


def test_an_entrywise_function_held_is_not_computed_again():
    code = _value_and_grad(ROOT / "examples" / "gated_unit.sbp")
    assert code.count("_sigmoid(a)") == 1 and code.count("np.tanh(c)") == 1
    assert "t2 * (1 - t2)" in code and "1 - t1 ** 2" in code


def test_log_of_a_sigmoid_stays_the_finite_form():
    d = sbp.derive(sbp.parse("dim n\nparam v: vector(n)\nJ = sum(log(sigmoid(v))) + "
                             "sum(sigmoid(v))\nobjective J\n"))
    assert "np.logaddexp(0.0, -v)" in d.lambdify().source
    J, grads = d.lambdify()(v=np.array([1000.0, -1000.0]))
    assert np.isfinite(J) and np.all(np.isfinite(grads["v"]))


@pytest.mark.parametrize("name", ["softmax_regression", "layer_norm", "linear_regression",
                                  "logistic_regression", "hinge_svm", "self_attention",
                                  "quadratic_form", "gated_unit", "mlp_softplus"])
def test_the_rewritten_code_is_right_where_a_dim_is_one(name):
    path = ROOT / "examples" / f"{name}.sbp"
    model = sbp.load(path, bind=BIND.get(path.stem))
    for dims in ({n: 1 for n in model.dims}, {n: 1 + k % 3 for k, n in enumerate(model.dims)}):
        report = sbp.check(model, dims=dims)
        assert report.ok, (dims, str(report))


def test_a_chain_is_bracketed_from_its_sizes():
    text = ("dim n, d\ninput x: vector(d)\nparam A: matrix(n, n)\nparam B: matrix(n, d)\n"
            "J = sum(tanh(A @ B @ x))\nobjective J\n")
    model = sbp.parse(text)
    source = sbp.derive(model).lambdify().source
    assert "A @ (B @ x)" in source
    assert sbp.check(model, dims={"n": 3, "d": 2}).ok


def test_a_chain_the_sizes_do_not_decide_is_left_to_numpy_at_call_time():
    text = ("dim n, d\ninput X: matrix(n, d)\nparam A: matrix(d, n)\nparam B: matrix(n, d)\n"
            "J = sum(tanh(X @ A @ B))\nobjective J\n")
    model = sbp.parse(text)
    source = sbp.derive(model).lambdify().source
    assert "np.linalg.multi_dot([X, A, B])" in source
    for dims in ({"n": 4, "d": 2}, {"n": 2, "d": 4}):
        assert sbp.check(model, dims=dims).ok


def test_a_quadratic_form_is_a_dot_product():
    code = _value_and_grad(ROOT / "examples" / "quadratic_form.sbp")
    assert "np.vdot(b, x)" in code and "np.vdot(x" in code


def _brackets(i, j):
    if i == j:
        yield i
        return
    for s in range(i, j):
        for left in _brackets(i, s):
            for right in _brackets(s + 1, j):
                yield (left, right)


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_the_chosen_order_costs_least_at_every_size_tried(count):
    n, d, h = sp.symbols("n d h", positive=True)
    rng = np.random.default_rng(count)
    for _ in range(20):
        dims = [sp.Integer(1) if rng.random() < 0.3 else [n, d, h][rng.integers(3)]
                for _ in range(count + 1)]
        shapes = list(zip(dims[:-1], dims[1:]))
        tree = chain_order(shapes)
        if tree is None:  # then no bracketing is best at every size
            continue
        for sizes in itertools.product([1, 2, 7, 50], repeat=3):
            at = dict(zip((n, d, h), sizes))
            best = chain_cost(shapes, tree).subs(at)
            assert all(best <= chain_cost(shapes, t).subs(at) for t in _brackets(0, count - 1))


def test_a_broadcast_is_widened_where_the_whole_shape_is_needed():
    n, q = sp.Symbol("n", integer=True, positive=True), sp.Symbol("q", integer=True,
                                                                   positive=True)
    b, X = sp.MatrixSymbol("b", q, 1), sp.MatrixSymbol("X", n, q)
    printer = NumPyPrinter({b: "b", X: "X", n: "n", q: "q"})
    rows = ex.mul(ex.ones(n, 1), b.T)
    assert printer.doprint(rows) == "np.full((n, q), b.T)"
    assert printer.doprint(ex.add(X, rows)) == "X + b.T"
    assert printer.doprint(ex.mul(2, ex.ones(n, 1))) == "2 * np.ones((n, 1))"
    values = {"np": np, "b": np.arange(3.0).reshape(3, 1), "X": np.ones((2, 3)), "n": 2, "q": 3}
    widened = eval(printer.doprint(ex.mul(rows, X.T)), values)  # 𝟏 bᵀ Xᵀ
    assert np.array_equal(widened, np.ones((2, 1)) @ values["b"].T @ values["X"].T)


def test_relu_derivative_in_a_product_is_a_comparison():
    for name, expected in (("mlp_bias", "grad_z = grad_h * (z > 0)"),
                           ("hinge_svm", "grad_margin = -(1.0 / n_n) * (t0 > 0)")):
        code = _value_and_grad(ROOT / "examples" / f"{name}.sbp")
        assert expected in code and "np.heaviside" not in code


def test_an_outer_product_is_an_einsum_not_a_matrix_product():
    code = _value_and_grad(ROOT / "examples" / "textbook_mlp.sbp")
    assert 'grad_W1 = np.einsum("ik,kj->ij", grad_z, x.T) + lambda_ * W1' in code
    assert "@ x.T" not in code and "* x.T" not in code
    model = sbp.load(ROOT / "examples" / "textbook_mlp.sbp", bind=BIND["textbook_mlp"])
    assert sbp.check(model, dims={"d": 1, "h": 3, "q": 1}).ok


def test_softmax_beside_log_softmax_is_its_exponential():
    code = _value_and_grad(ROOT / "examples" / "softmax_regression.sbp")
    assert not re.search(r"(?<!_log)_softmax\(", code) and code.count("_log_softmax(O_, 1)") == 1
    assert "np.exp(t0)" in code


def test_a_layer_stack_computes_no_gradient_of_its_input_unless_asked():
    # dJ/dH[0] = dJ/dX: the backward loop's last iteration, peeled off, leaves it out
    model = sbp.load(ROOT / "examples" / "loops" / "mlp_layers_batch.sbp",
                     bind=LOOP_BIND["mlp_layers_batch"])
    d = sbp.derive(model)
    code = d.lambdify().source.split("def value_and_grad")[1]
    assert "for l_ in range(L, 1, -1):" in code and "grad_H[0]" not in code
    assert code.count("@ W[l_ - 1].T") == 1  # only inside the loop, for l = L, ..., 2
    assert "grad_H[l_] = grad_Z[l_ - 1] = None" in code  # still freed as it goes
    with_x = d.lambdify(wrt=["W", "b", "X"]).source.split("def value_and_grad")[1]
    assert "for l_ in range(L, 0, -1):" in with_x and "grad_X = np.copy(grad_H[0])" in with_x
    rng = np.random.default_rng(0)
    arrays = {"X": rng.standard_normal((5, 3)), "Y": np.eye(4)[[0, 1, 3, 2, 1]],
              "W": [rng.standard_normal((3, 6)), rng.standard_normal((6, 4))],
              "b": [rng.standard_normal(6), rng.standard_normal(4)]}
    J, (gW, gb) = d.lambdify()(**arrays)
    J_x, (gW_x, gb_x, _) = d.lambdify(wrt=["W", "b", "X"])(**arrays)
    assert J == J_x and all(np.array_equal(a, b) for a, b in zip(gW + gb, gW_x + gb_x))


def test_a_trace_of_a_product_is_a_dot_product_and_the_product_is_never_formed():
    code = _value_and_grad(ROOT / "examples" / "logdet.sbp")
    assert "t = np.vdot(A, B.T @ Y.T)" in code and "np.trace" not in code
    n, k = sp.symbols("n k", integer=True, positive=True)
    X, Y = sp.MatrixSymbol("X", n, k), sp.MatrixSymbol("Y", k, n)
    printer = NumPyPrinter({X: "X", Y: "Y"})
    assert printer.doprint(sp.Trace(ex.mul(X.T, X))) == "np.vdot(X, X)"  # no transposed copy
    assert printer.doprint(sp.Trace(ex.mul(X, Y))) == "np.vdot(X, Y.T)"
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    assert np.isclose(eval(printer.doprint(3 * sp.Trace(ex.mul(X, Y, X, Y))),
                           {"np": np, "X": x, "Y": y}), 3 * np.trace(x @ y @ x @ y), rtol=1e-14)


def test_two_indicators_of_one_sign_are_one_comparison():
    code = _value_and_grad(ROOT / "examples" / "mlp_gelu.sbp")
    assert "grad_z2 = grad_h2 * np.where(z2 > 0, 1, a)" in code and "heaviside" not in code


def test_the_generated_normal_distribution_function_is_right_to_a_few_ulps():
    import math
    from symbackprop.printing.numpy_code import HELPERS
    namespace = {"np": np}
    exec(next(h for h in HELPERS if h.startswith("def _normal_cdf(")), namespace)
    cdf = namespace["_normal_cdf"]
    x = np.concatenate([np.linspace(-37.5, 8.5, 46001), np.geomspace(1e-300, 1.0, 301),
                        -np.geomspace(1e-300, 1.0, 301)])
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x])
    # Φ(x) moves x² times as much as x, relatively, in its left tail: x rounded to the ulp
    # alone costs x² ulps there; every value is within four times that, and 40 ulps inside ±6
    error = np.abs(cdf(x) - exact) / exact
    assert np.all(error <= 4 * 2.0**-52 * np.maximum(x * x, 10.0))
    assert error[np.abs(x) <= 6].max() <= 40 * 2.0**-52
    grid = x[:700].reshape(100, 7)[:, ::-1].T  # a strided 2-D array keeps its shape
    assert np.array_equal(cdf(grid), cdf(grid.ravel()).reshape(grid.shape))
    assert cdf(0.25).shape == () and np.isclose(cdf(0.25), 0.5 * math.erfc(-0.25 / math.sqrt(2)))
    special = cdf(np.array([np.inf, -np.inf, np.nan, 40.0, -40.0]))
    assert np.array_equal(special, [1.0, 0.0, np.nan, 1.0, 0.0], equal_nan=True)
