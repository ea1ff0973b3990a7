"""The NumPy function (layout at the boundary, bindings, conventions, the scalar rules),
and the finite-difference check of its gradients."""

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.primitives import expressions as ex

MIXED = """\
dim n, m
param v: vector(n)
param A: matrix(m, n)
param c: scalar
input x: vector(n)
const lambda: scalar
J = sum(tanh(A @ (v * x))) * c + lambda * norm(v)^2
objective J
"""


def test_gradients_come_back_in_each_params_shape():
    f = sbp.derive(sbp.parse(MIXED)).lambdify()
    rng = np.random.default_rng(0)
    J, grads = f(v=rng.normal(size=3), A=rng.normal(size=(2, 3)), c=0.5, x=rng.normal(size=3),
                 **{"lambda": 0.1})
    assert isinstance(J, float)
    assert list(grads) == ["v", "A", "c"]
    assert grads["v"].shape == (3,) and grads["A"].shape == (2, 3)
    assert isinstance(grads["c"], float)


def test_arrays_are_checked_by_name_and_shape():
    f = sbp.derive(sbp.parse(MIXED)).lambdify()
    good = dict(v=np.ones(3), A=np.ones((2, 3)), c=1.0, x=np.ones(3), **{"lambda": 0.1})
    with pytest.raises(TypeError, match="missing x"):
        f(**{k: a for k, a in good.items() if k != "x"})
    with pytest.raises(TypeError, match="unknown w"):
        f(**good, w=1.0)
    with pytest.raises(ValueError, match="x is a vector\\(n\\).*n = 3"):
        f(**{**good, "x": np.ones(4)})
    with pytest.raises(ValueError, match="A is a matrix\\(m, n\\): expected a 2-D array"):
        f(**{**good, "A": np.ones(6)})
    with pytest.raises(ValueError, match="c is a scalar"):
        f(**{**good, "c": np.ones(2)})


def test_keyword_names_are_mapped_safely():
    d = sbp.derive(sbp.parse(MIXED))
    source = d.lambdify().source
    assert "lambda_" in source
    compile(source, "<generated>", "exec")  # valid Python


def test_relu_has_derivative_zero_at_zero():
    d = sbp.derive(sbp.parse("dim n\nparam w: vector(n)\nJ = sum(relu(w))\nobjective J\n"))
    _, grads = d.lambdify()(w=np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(grads["w"], [0.0, 0.0, 1.0])


def test_a_param_the_objective_ignores_has_a_zero_gradient():
    d = sbp.derive(sbp.parse("dim n\nparam w: vector(n)\nparam u: vector(n)\n"
                             "J = sum(w)\nobjective J\n"))
    _, grads = d.lambdify()(w=np.ones(2), u=np.ones(2))
    np.testing.assert_array_equal(grads["u"], [0.0, 0.0])


@pytest.mark.parametrize("function, definition", [
    (ex.relu, lambda t: sp.Max(0, t)),
    (ex.sigmoid, lambda t: 1 / (1 + sp.exp(-t))),
    (ex.softplus, lambda t: sp.log(1 + sp.exp(t))),
])
def test_hand_written_derivatives_match_the_definitions(function, definition):
    t = sp.Symbol("t", real=True)
    hand = sp.diff(function(t), t).rewrite(sp.exp)
    from_definition = sp.diff(definition(t), t)
    for value in (-2.5, -0.3, 0.7, 3.0):
        assert float(hand.subs(t, value)) == pytest.approx(float(from_definition.subs(t, value)),
                                                           rel=1e-14)
    if function is not ex.relu:
        assert sp.simplify(hand - from_definition.rewrite(sp.exp)) == 0


def test_numerically_stable_forms():
    text = """\
dim n
param v: vector(n)
input y: vector(n)
J = logsumexp(v) + sum(softmax(v)) + sum(log_softmax(v)) + sum(softplus(v)) + sum(sigmoid(v)) + cross_entropy(v, y) + sum(log(sigmoid(v)))
objective J
"""
    f = sbp.derive(sbp.parse(text)).lambdify()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        J, grads = f(v=np.array([1000.0, -1000.0, 0.0]), y=np.array([0.0, 1.0, 0.0]))
    assert np.isfinite(J) and np.all(np.isfinite(grads["v"]))
    # and right: d/dv log(sigmoid(v)) = 1 - sigmoid(v) is 0 and 1 at the extremes
    d = sbp.derive(sbp.parse("dim n\nparam v: vector(n)\nJ = sum(log(sigmoid(v)))\nobjective J\n"))
    J, grads = d.lambdify()(v=np.array([1000.0, -1000.0]))
    assert J == pytest.approx(-1000.0)
    np.testing.assert_allclose(grads["v"], [0.0, 1.0])


@pytest.mark.parametrize("body", ["mse(S, S)", "sum(w - w) + sum(S)", "sum(0 * w) + sum(S)"])
def test_zero_adjoints_keep_their_shape(body):
    text = f"dim n\nparam S: matrix(n, n)\nparam w: vector(n)\nJ = {body}\nobjective J\n"
    d = sbp.derive(sbp.parse(text))
    _, grads = d.lambdify()(S=np.ones((3, 3)), w=np.ones(3))
    assert grads["S"].shape == (3, 3) and grads["w"].shape == (3,)
    assert sbp.check(d).ok and sbp.verify(d, dims={"n": 2}).ok


def test_named_constants_compile():
    d = sbp.derive(sbp.parse("param a: scalar\nJ = a * exp(1)\nobjective J\n"))
    J, grads = d.lambdify()(a=2.0)
    assert J == pytest.approx(2 * np.e) and grads["a"] == pytest.approx(np.e)


def test_a_fractional_power_of_a_negative_scalar_is_nan_not_complex():
    d = sbp.derive(sbp.parse("param a: scalar\nJ = a^1.5\nobjective J\n"))
    with np.errstate(invalid="ignore"):
        J, _ = d.lambdify()(a=-1.0)
    assert np.isnan(J)


def test_check_names_where_a_nan_first_appears():
    model = sbp.parse("dim n\nparam w: vector(n)\nz = log(w)\nJ = sum(z * z)\nobjective J\n")
    report = sbp.check(model)
    assert not report.ok
    assert report.problems == ["z (line 3) is not finite: the first non-finite forward value"]
    assert "float64" in str(report)


def test_check_names_a_non_finite_adjoint():
    # sqrt(relu(w)) is finite, its derivative is not where w < 0: 0 / sqrt(0)
    model = sbp.parse("dim n\nparam w: vector(n)\nr = relu(w)\nJ = sum(sqrt(r))\nobjective J\n")
    report = sbp.check(model)
    assert not report.ok
    assert report.problems and "first non-finite adjoint" in report.problems[0]


def test_check_resolves_a_small_gradient_beside_a_large_objective():
    # rounding in J(θ + h) - J(θ - h) grows with |J|: the step grows with it
    model = sbp.parse("dim n\ninput x: vector(n)\nJ = sum(x * x) + 1000000\nobjective J\n")
    report = sbp.check(model)
    assert report.ok, str(report)


def test_check_steps_over_a_kink():
    # relu with a kink within the larger steps: a step below it is taken, not the kink's slope
    model = sbp.parse("dim n\nparam w: vector(n)\nJ = sum(relu(w))\nobjective J\n")
    f = sbp.derive(model).lambdify()
    from symbackprop.proofs.check import _derivative_along
    w, v = np.array([-1.0, 2e-5, 1.0]), np.array([0.6, 0.8, 0.0])
    value, error = _derivative_along(lambda t: f.objective(w=w + t * v), 1.0)
    assert abs(value - 0.8) <= error <= 1e-9


def test_check_judges_a_small_gradient_at_its_own_scale():
    # |J| ~ 1e6 beside |dJ/db| ~ 1e-7: a sign-flipped dJ/db is caught, the right one passes
    text = ("dim n\ninput x: vector(n)\nparam b: vector(n)\n"
            "J = 1000000 * sum(x * x) + 0.0000001 * sum(tanh(b))\nobjective J\n")
    d = sbp.derive(sbp.parse(text))
    report = sbp.check(d)
    assert report.ok, str(report)
    assert report.resolution["b"] < 0.05, str(report)  # finite differences resolve it
    from symbackprop import Derivation, Step
    flipped = tuple(Step(s.node, s.adjoint, s.terms, -s.result) if s.node == "b" else s
                    for s in d.steps)
    report = sbp.check(Derivation(d.model, d.symbols, flipped))
    assert not report.ok and report.errors["b"] > 1e-7 >= report.errors["x"], str(report)


def test_check_passes_an_exactly_zero_gradient():
    # d/dw (norm(w) + sum(w)) = sign(w) + 1 = 0 for a negative w of one entry
    model = sbp.parse("dim n\nparam w: vector(n)\nJ = norm(w) + sum(w)\nobjective J\n")
    from symbackprop.proofs.check import random_arrays
    seed = next(s for s in range(100) if random_arrays(model, {"n": 1}, s)["w"][0] < 0)
    report = sbp.check(model, dims={"n": 1}, seed=seed)
    assert report.ok, str(report)


def test_a_dead_value_does_not_fail_check():
    model = sbp.parse("dim n\nparam x: vector(n)\nu = log(x)\nJ = sum(x * x)\nobjective J\n")
    assert sbp.check(model).ok


def test_verify_proves_where_a_random_point_leaves_the_real_domain():
    # sqrt of a const of unknown sign: the numeric screen cannot evaluate, the proof still runs
    text = ("dim m\nparam p: vector(m)\nconst K: matrix(m, m)\ninput C: vector(m)\n"
            "v = p + sqrt(K) @ p\nJ = sum(C * relu(p + v))\nobjective J\n")
    assert sbp.verify(sbp.parse(text), dims={"m": 2}).ok
