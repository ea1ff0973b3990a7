"""``verify``: bounded in time, honest about what it proved, and short when it objects."""

import dataclasses
import time
from pathlib import Path

import sympy as sp

import symbackprop as sbp
from symbackprop.primitives import expressions as ex
from symbackprop.proofs.sizes import small_dims as _small_dims
from symbackprop.proofs import bounded
from symbackprop.proofs.explicit import explicit_environment
from symbackprop.cli import main
from symbackprop.primitives.operators import REGISTRY

TEXTBOOK = Path(__file__).resolve().parent.parent / "examples" / "textbook_mlp.sbp"

ABS = """\
dim n
param w: vector(n)
J = sum(sqrt(w * w))
objective J
"""

# check passes it; verify once failed it, with 1/m left symbolic in the explicit form
CENTERED = """\
dim m, n
param p0: matrix(n, m)
input C2: vector(n)
v1 = softmax(p0)
v2 = center_rows(log(square(v1) + 1))
J = sum(C2 * logsumexp(v2))
objective J
"""


def test_a_kink_is_proved_where_the_derivative_exists():
    # sympy.diff writes d|w|/dw as sign(w), the chain rule through sqrt(w^2) as w/|w|
    report = sbp.verify(sbp.parse(ABS), dims={"n": 3})
    assert report.ok and report.proved == {"w": 3}, str(report)


def test_explicit_forms_put_the_sizes_for_the_dims():
    model = sbp.parse(CENTERED)
    d = sbp.derive(model)
    env = explicit_environment(d, {model.dims["m"]: 2, model.dims["n"]: 3})
    dims = set(model.dims.values())
    for symbol, value in env.items():
        assert not (value.free_symbols & dims), symbol


def test_a_proof_out_of_time_is_reported_as_numeric_equality_not_as_a_failure(monkeypatch):
    # every proof runs out of its time, whatever the machine's speed
    monkeypatch.setattr(bounded, "bounded_proof", lambda difference, seconds, forms: (None, True))
    report = sbp.verify(sbp.parse(CENTERED), dims={"m": 2, "n": 2}, timeout=600.0)
    assert not report.mismatches, str(report)
    assert report.unproved and not report.ok
    assert all(points == 3 for _, _, _, points in report.unproved)
    text = str(report)
    assert "equal at 3 random points to 50 digits; not proved symbolically" in text
    assert text.splitlines()[-1].startswith("NOT PROVED")
    accepted = dataclasses.replace(report, accept_numeric=True)
    assert accepted.ok and str(accepted).splitlines()[-1].startswith("passed, not all proved")


def test_verify_keeps_to_its_time_budget():
    start = time.monotonic()
    report = sbp.verify(sbp.parse(CENTERED), dims={"m": 2, "n": 2}, timeout=1.0)
    assert time.monotonic() - start < 15  # the budget, plus building and comparing the entries
    assert not report.mismatches and not report.ok, str(report)
    # on a loaded machine the budget may run out before some entries are even built: those
    # are said to be not compared, never passed
    for _, _, why, points in report.unproved:
        assert points == 3 or (points == 0 and why.startswith("not compared")), why
    assert str(report).splitlines()[-1].startswith("NOT PROVED")


def test_a_wrong_rule_gets_a_short_counterexample(monkeypatch):
    def wrong(site):  # tanh' written as 1 - tanh instead of 1 - tanh^2
        return ex.hadamard(site.adj, ex.Map(sp.Lambda(ex.ENTRY, 1 - sp.tanh(ex.ENTRY)),
                                            site.args[0]))
    monkeypatch.setitem(REGISTRY, "tanh", dataclasses.replace(REGISTRY["tanh"], rules=(wrong,)))
    model = sbp.load(TEXTBOOK, bind={"phi": "tanh", "ell": "squared_error"})
    report = sbp.verify(model)
    assert not report.ok and {m[0] for m in report.mismatches} == {"x", "W1"}
    text = str(report)
    assert text.splitlines()[-1].startswith("FAILED: 8 of 24 entries differ")
    assert max(len(line) for line in text.splitlines()) <= 400
    name, index, counterexample = report.mismatches[0]
    assert counterexample.derived != counterexample.truth
    derived, truth = (sp.sstr(p) for p in counterexample.parts)
    assert derived.startswith("-tanh(") and truth.startswith("tanh(") and truth.endswith(")**2")


def test_default_sizes_are_distinct_and_avoid_the_given_ones():
    model = sbp.parse("dim a, b, c, d, e\nparam x: vector(a)\nJ = sum(x)\nobjective J\n")
    assert _small_dims(model) == {"a": 2, "b": 3, "c": 4, "d": 5, "e": 6}
    assert _small_dims(model, {"c": 2}) == {"a": 3, "b": 4, "c": 2, "d": 5, "e": 6}


def test_the_command_line_budget_and_acceptance(capsys, tmp_path):
    path = tmp_path / "centered.sbp"
    path.write_text(CENTERED, encoding="utf-8")
    argv = ["verify", str(path), "--dims", "m=2,n=2", "--timeout", "0.5"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "budget 0.5 s" in out and "NOT PROVED" in out and "--accept-numeric" in out
    assert main(argv + ["--accept-numeric"]) == 0
    assert "(accepted)" in capsys.readouterr().out
    assert main(["verify", str(path), "--timeout", "0"]) == 2
    assert "--timeout must be a positive number" in capsys.readouterr().err


def test_a_proof_without_a_time_limit_waits_for_its_answer():
    # verify(timeout=None) gives each entry an infinite share, which select() cannot take
    from symbackprop.proofs.forked import run_bounded
    assert run_bounded(lambda: "proved", float("inf")) == "proved"
    assert run_bounded(lambda: "proved", None) == "proved"
    example = Path(__file__).resolve().parents[1] / "examples" / "linear_regression.sbp"
    report = sbp.verify(sbp.load(example), timeout=None)
    assert report.ok and report.entries
