"""Depth and fan-out: very deep models derive, and shared weights sum their terms."""

import sys

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.printing import documents
from symbackprop.printing.numpy_code import generate_source
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.readback import prove_printed
from symbackprop.derivation.reverse import adjoint_symbol
from reference import relative_error, torch_value_and_grad


def deep_mlp(layers, activation="tanh"):
    lines = ["dim n", "input x: vector(n)"]
    lines += [f"param W{i}: matrix(n, n)" for i in range(1, layers + 1)]
    previous = "x"
    for i in range(1, layers + 1):
        lines += [f"z{i} = W{i} @ {previous}", f"h{i} = {activation}(z{i})"]
        previous = f"h{i}"
    lines += [f"J = sum({previous})", "objective J"]
    return "\n".join(lines) + "\n"


def test_300_layers_derive_without_recursion_error():
    d = sbp.derive(sbp.parse(deep_mlp(300)))
    assert len(d.steps) == 1 + 2 * 300 + 300 + 1  # J, z_i and h_i, W_i, x
    # every adjoint stays a handful of operations, whatever the depth
    assert max(sp.count_ops(s.result) for s in d.steps) <= 8
    W1 = d.adjoint("W1")
    assert W1 == sp.MatMul(adjoint_symbol(d.model, "z1"), d.symbols["x"].T)


def test_300_layers_numbers_agree_with_autograd():
    # Finite differences say little 300 tanh layers deep (the gradient of the
    # first layers is far below their rounding noise); autograd is exact too.
    d = sbp.derive(sbp.parse(deep_mlp(300)))
    arrays = random_arrays(d.model, {"n": 3}, seed=0)
    J, grads = d.lambdify()(**arrays)
    J_torch, grads_torch = torch_value_and_grad(d.model, arrays, d.params)
    assert relative_error(J, J_torch) <= 1e-12
    for name in d.params:
        assert relative_error(grads[name], grads_torch[name]) <= 1e-9, name


def test_deep_model_agrees_with_finite_differences():
    report = sbp.check(sbp.parse(deep_mlp(12)), dims={"n": 3})
    assert report.ok, str(report)


def test_a_64_layer_tanh_model_agrees_with_finite_differences_in_seconds():
    # Once reported as failing (relative errors near 1e-5), and slow: every one of the
    # thousands of calls of the finite differences solved the dims from the shapes anew.
    report = sbp.check(sbp.parse(deep_mlp(64)), dims={"n": 3})
    assert report.ok, str(report)
    assert len(report.errors) == 65 and max(report.errors.values()) < 1e-7  # x, W1 ... W64


def test_a_long_sum_in_one_assignment():
    text = "dim d\ninput x: vector(d)\nJ = sum(x" + " + x" * 500 + ")\nobjective J\n"
    d = sbp.derive(sbp.parse(text))
    assert sbp.check(d).ok


def test_a_weight_used_at_every_step_sums_one_term_per_use():
    # backpropagation through time: one W at every step of an unrolled recurrence
    text = """\
dim n
input x: vector(n)
param W: matrix(n, n)
h1 = tanh(W @ x)
h2 = tanh(W @ h1)
h3 = tanh(W @ h2)
J = sum(h3)
objective J
"""
    d = sbp.derive(sbp.parse(text))
    step = d.step("W")
    assert [t.consumer for t in step.terms] == ["h1", "h2", "h3"]
    assert isinstance(step.result, sp.MatAdd) and len(step.result.args) == 3
    assert sbp.check(d).ok
    assert sbp.verify(d, dims={"n": 2}).ok


def test_a_value_read_twice_in_one_assignment():
    text = """\
dim n
param w: vector(n)
param A: matrix(n, n)
J = w.T @ A @ w + sum(w * w)
objective J
"""
    d = sbp.derive(sbp.parse(text))
    assert len(d.step("w").terms) == 1  # one consumer, its uses summed inside
    assert sbp.check(d).ok and sbp.verify(d, dims={"n": 3}).ok


def nested_tanh(depth):
    """``z = tanh(tanh(...(x)...))``: one entrywise function of `depth` nested tanh."""
    body = "x"
    for _ in range(depth):
        body = f"tanh({body})"
    return f"dim n\ninput x: vector(n)\nz = {body}\nJ = sum(z)\nobjective J\n"


class _Budget(BaseException):
    """Past the budget of calls; a BaseException, so that no `except Exception` swallows it."""


def _calls(work, budget=None):
    """How many Python functions `work()` calls, from a cold SymPy cache; past `budget`, stop.

    A count of calls, not a time: the same on a loaded machine, and the stop keeps a
    regression to an exponential cost from running for minutes before it fails.
    """
    sp.core.cache.clear_cache()  # a warm cache would hide work done by an earlier test
    count = 0

    def hook(frame, event, arg):
        nonlocal count
        if event == "call":
            count += 1
            if budget is not None and count > budget:
                raise _Budget

    sys.setprofile(hook)
    try:
        work()
    except _Budget:
        return count
    finally:
        sys.setprofile(None)
    return count


def _derive_and_print(depth):
    """What derive (three formats), codegen and the read-back of check do with the model."""
    def work():
        d = sbp.derive(sbp.parse(nested_tanh(depth)))
        documents.text(d), documents.latex(d), documents.markdown(d)
        generate_source(d.bound())
        assert prove_printed(d, formats=("text", "LaTeX"), bindings=(0,)).ok
    return work


def test_a_nested_entrywise_function_prints_in_polynomial_work():
    # Each tanh of the body once asked whether its argument was real, expanding real and
    # imaginary parts level by level: the work grew about 2.5 times per level (printing
    # depth 8 took 37 times the calls of depth 4).  The printed text grows as depth^2
    # (depth factors of up to depth functions each), so cubic growth is a generous bound.
    small, deep = 4, 12
    budget = _calls(_derive_and_print(small)) * (deep // small) ** 3
    calls = _calls(_derive_and_print(deep), budget)
    assert calls <= budget, f"depth {deep} stopped past {budget} calls, cubic in depth {small}'s"


def test_a_nested_entrywise_function_40_deep_derives_in_linear_work():
    # Once exponential (time doubled per level: 12 levels took minutes), then quadratic: each
    # level rebuilt the composition below it and re-sorted the growing product of the chain
    # rule's factors.  A level now costs the same work however deep it is: the 20 levels
    # from 20 to 40 cost twice the 10 from 10 to 20 (quadratic work would cost four times).
    ten, twenty = (_calls(lambda: sbp.derive(sbp.parse(nested_tanh(n)))) for n in (10, 20))
    budget = twenty + 2.5 * (twenty - ten)
    forty = _calls(lambda: sbp.derive(sbp.parse(nested_tanh(40))), budget)
    assert forty - twenty <= 2.5 * (twenty - ten), \
        f"levels 20 to 40 cost {forty - twenty} calls, levels 10 to 20 {twenty - ten}"


def test_the_derivative_of_a_nested_function_is_the_chain_rule_outermost_first():
    d = sbp.derive(sbp.parse(nested_tanh(3)))
    assert documents.text(d).splitlines()[-1].strip() == (
        "∂J/∂x = ∂J/∂z ⊙ (1 - z^⊙2) ⊙ (1 - tanh²(tanh(x))) ⊙ (1 - tanh²(x))")
    assert sbp.check(d).ok and sbp.verify(d, dims={"n": 3}).ok
    assert prove_printed(d).ok


def test_the_code_of_40_nested_functions_computes_each_level_once():
    # The derivative is a product of 40 factors, the k-th holding the k innermost tanh: as
    # one body each, the code called tanh 40 * 41 / 2 times where a hand-writer names each
    # level once and reads it back, 1 - t^2 of t = tanh(...).
    depth = 40
    d = sbp.derive(sbp.parse(nested_tanh(depth)))
    source = generate_source(d.bound(), wrt=["x"])
    code = source.split("def value_and_grad")[1].split("\ndef ")[0]
    statements = "\n".join(line for line in code.splitlines() if not line.strip().startswith("#"))
    assert statements.count("np.tanh(") == depth
    x = np.linspace(-1.5, 1.5, 5)
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # the library's own output
    J, grads = namespace["value_and_grad"](x)
    grad_x = grads["x"]
    levels, slope = [x], np.ones_like(x)
    for _ in range(depth):
        slope = slope * (1 - np.tanh(levels[-1]) ** 2)
        levels.append(np.tanh(levels[-1]))
    assert J == pytest.approx(levels[-1].sum(), rel=1e-14)
    np.testing.assert_allclose(grad_x, slope, rtol=1e-13)


def test_a_product_of_2000_factors_derives_in_quadratic_work():
    # One line of 2000 factors once took minutes (about n^2.5).
    def product(factors):
        return "param x: scalar\nJ = " + " * ".join(["x"] * factors) + "\nobjective J\n"
    derived = []
    budget = _calls(lambda: sbp.derive(sbp.parse(product(500)))) * 4 ** 2
    calls = _calls(lambda: derived.append(sbp.derive(sbp.parse(product(2000)))), budget)
    assert calls <= budget, f"2000 factors stopped past {budget} calls, quadratic in 500's"
    assert derived[0].lambdify()(x=1.001)[1]["x"] == pytest.approx(2000 * 1.001 ** 1999, rel=1e-12)


def test_the_hessian_of_a_nested_function_is_not_expanded_past_its_limit():
    # Entry by entry, the Hessian was expanded into a sum of products: 12 nested tanh make a
    # product of 12 squared sums, 4^12 terms (depth 6 took 8 s, each level four times more).
    from symbackprop.proofs.hessian import hessian_text

    def work(depth):
        model = nested_tanh(depth).replace("input x", "param x")
        return lambda: hessian_text(sbp.derive(sbp.parse(model)), dims={"n": 1})
    budget = _calls(work(6)) * 2 ** 3  # twice the depth: generously cubic
    calls = _calls(work(12), budget)
    assert calls <= budget, f"depth 12 stopped past {budget} calls, cubic in depth 6's"
