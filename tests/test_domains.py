"""Declared domains: `positive` and `unit` variables, drawn from and assumed where defined.

A model that takes ``log`` or ``sqrt`` of its data is defined only where the
data are positive: without a domain, `check` draws standard normal data and
stops at the first non-finite value; with one, it draws from the domain, and
`verify` proves the gradients with positive entry symbols.
"""

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.proofs.check import _largest_step, random_arrays

#: log and sqrt of a positive input, log(u) and log(1 - u) of a unit one, and both
#: domains on scalars (a const and a param) and on a matrix.
DOMAINS = """\
dim n, m
input x: vector(n) positive as "\\mathbf{x}"
input u: vector(n) unit
input A: matrix(m, n) positive
param w: vector(n)
param s: scalar unit
const c: scalar positive
r = log(x) + sqrt(x) * w
J = sum(w * r) + sum(log(u) + log(1 - u)) + sum(sqrt(A) @ (w * u)) + c * log(s) + log(1 - s)
objective J
"""


def test_a_declaration_states_its_domain():
    model = sbp.parse(DOMAINS)
    domains = {n: v.domain for n, v in model.variables.items() if v.declared}
    assert domains == {"x": "positive", "u": "unit", "A": "positive", "w": None, "s": "unit",
                       "c": "positive"}
    assert model.variables["x"].latex == "\\mathbf{x}"  # `as` still follows the domain
    assert model.variables["r"].domain is None  # an assignment has none


def test_data_are_drawn_from_the_domain():
    model = sbp.parse(DOMAINS)
    for seed in range(20):
        arrays = random_arrays(model, {"n": 4, "m": 3}, seed)
        assert np.all(arrays["x"] > 0) and np.all(arrays["A"] > 0) and arrays["c"] > 0
        assert np.all((0 < arrays["u"]) & (arrays["u"] < 1)) and 0 < arrays["s"] < 1


def test_a_step_stays_inside_the_domain():
    value, direction = np.array([0.1, 0.9, 0.5]), np.array([0.6, -0.8, 0.0])
    step = _largest_step(value, direction, "unit", 1.0)
    assert step > 0
    for t in (step, -step):
        moved = value + t * direction
        assert np.all((0 < moved) & (moved < 1))
    assert _largest_step(value, direction, "real", 1.0) == 1.0


def test_check_and_verify_pass_where_the_model_is_defined():
    model = sbp.parse(DOMAINS)
    report = sbp.check(model)
    assert report.ok, str(report)
    assert set(report.errors) == {"x", "u", "A", "w", "s"}
    report = sbp.verify(model, dims={"n": 2, "m": 1})
    assert report.ok, str(report)


def test_without_the_domain_check_meets_log_of_a_negative_number():
    model = sbp.parse(DOMAINS.replace(" positive", "").replace(" unit", ""))
    report = sbp.check(model)
    assert not report.ok
    assert report.problems and "is not finite" in report.problems[0]


def test_a_positive_scalar_is_a_positive_symbol():
    d = sbp.derive(sbp.parse(DOMAINS))
    assert d.symbols["s"].is_positive and d.symbols["c"].is_positive
    assert not d.symbols["w"].is_positive  # a MatrixSymbol carries no assumption
    # SymPy uses it: the derivative of sqrt(c^2) s is c, not c / |c|
    d = sbp.derive(sbp.parse("const c: scalar positive\nparam s: scalar\n"
                             "J = sqrt(c^2) * s\nobjective J"))
    assert d.adjoint("s") == d.symbols["c"]


@pytest.mark.parametrize("name", ["positive", "unit"])
def test_the_domain_words_are_not_keywords(name):
    model = sbp.parse(f"dim n\ninput {name}: vector(n) {name}\nJ = sum(log({name}))\n"
                      "objective J")
    assert model.variables[name].domain == name
