"""Second derivatives: H v derived on the graph, proved three ways for the zoo and every rule.

For every example (found by a glob, as in ``test_zoo.py``) and for every
operator row of ``test_operators.py``, the generated NumPy H v must agree with

1. central finite differences of the first-order gradient along v (the
   gradient is the generated, already proved first-order code), Richardson-
   extrapolated;
2. the explicit SymPy Hessian at tiny sizes: every entry of
   sum_b d2J/d(theta_a)d(theta_b) v_b, by ``sympy.diff`` of the explicit
   objective, against the derived tangent steps evaluated entry by entry;
3. PyTorch double backward (``torch.autograd.functional.hvp``) in float64,
   through the independent evaluator of ``reference.py``.

Rows of the operator table exercise every expression class's tangent rule,
because each row's backward steps contain the classes its local rules build.
"""

import functools
import os
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.primitives import expressions as ex
from symbackprop.primitives import matrix_functions as mf
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.check import random_arrays
from symbackprop.printing.figures import graph_figure
from symbackprop import derive_hvp
from symbackprop.derivation.tangent import RULES, jvp, rule_of
from symbackprop.primitives.matrix_functions import SecondPartial
from symbackprop.proofs.hessian import elementwise_hessian, hessian_block
from symbackprop.proofs.verify import verify_hvp
from reference import relative_error, torch_hvp
from test_operators import ROWS, model_text
from test_zoo import BIND, IDS, PATHS

#: H v against finite differences of the gradient: norm-wise relative error.
#: Seen: at most 3e-10 (rnn_bptt); the extrapolated differences are good to ~1e-12.
FD_TOLERANCE = 1e-8
#: H v against PyTorch's double backward: both exact up to rounding (seen: 7e-15).
TORCH_TOLERANCE = 1e-12

#: Sizes for the explicit Hessian: every dim 2 unless listed.  sympy.diff twice of a
#: 4-layer net or 4 unrolled RNN steps at size 2 takes 10-30 s; these keep each under 4 s.
HESSIAN_DIMS = {
    "deep_mlp": {"d": 1, "h1": 2, "h2": 1, "h3": 1, "q": 1},
    "rnn_bptt": {"n": 1, "m": 1},
    "self_attention": {"n": 2, "d": 1, "k": 1},
    "mlp_minibatch": {"n": 1, "d": 2, "h": 2, "q": 2},
    "mlp_softplus": {"d": 1, "h": 2, "q": 2},
    "conv2d_pool": {"h": 1, "w": 1, "q": 2},  # an explicit Hessian of 3 x 3 kernel entries
}


def _directions(hvp, arrays, seed):
    rng = np.random.default_rng(seed)
    return {n: (float(rng.standard_normal()) if np.ndim(arrays[n]) == 0
                else rng.standard_normal(np.shape(arrays[n]))) for n in hvp.wrt}


def _gradient_along(derivation, arrays, v, wrt, step):
    """Central differences of the gradient along v, extrapolated (Richardson)."""
    gradient = derivation.lambdify(wrt=wrt)

    def at(t):
        moved = {**arrays, **{n: arrays[n] + t * v[n] for n in wrt}}
        return gradient(**moved)[1]

    def central(h):
        plus, minus = at(h), at(-h)
        return {n: (np.asarray(plus[n]) - np.asarray(minus[n])) / (2 * h) for n in wrt}

    coarse, fine = central(step), central(step / 2)
    return {n: (4 * fine[n] - coarse[n]) / 3 for n in wrt}


def _fd_error(derived, fd, gradient):
    # An H v at zero (relu'' = 0 everywhere but at 0) is compared against what
    # differences of a gradient of this size resolve, not against itself.
    floor = 1e-9 * max(1.0, float(np.linalg.norm(np.atleast_1d(gradient))))
    a, b = np.atleast_1d(derived), np.atleast_1d(fd)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), floor))


def _three_numbers(model, dims, seed, wrt=None):
    """(H v generated, H v by finite differences, H v by PyTorch, gradients) at random values."""
    d = sbp.derive(model)
    hvp = derive_hvp(d, wrt)
    arrays = random_arrays(model, default_dims(model, dims), seed)
    v = _directions(hvp, arrays, seed + 1)
    J, grads, hvps = hvp.lambdify()(v, **arrays)
    fd = _gradient_along(d, arrays, v, hvp.wrt, 1e-3)
    return hvps, fd, torch_hvp(model, arrays, v), grads, hvp


# --- the zoo --------------------------------------------------------------------------

def _load(path, bound=True):
    return sbp.load(path, bind=BIND.get(path.stem) if bound else None)


@functools.lru_cache(maxsize=None)
def _zoo_numbers(path):
    return _three_numbers(_load(path), None, seed=1)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_zoo_hvp_against_finite_differences(path):
    hvps, fd, _, grads, hvp = _zoo_numbers(path)
    assert set(hvps) == set(hvp.model.variables[n].name for n in hvp.derivation.params)
    for name in hvp.wrt:
        assert np.shape(hvps[name]) == np.shape(grads[name]), name
        assert _fd_error(hvps[name], fd[name], grads[name]) <= FD_TOLERANCE, name


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_zoo_hvp_against_pytorch_double_backward(path):
    hvps, _, torch, _, hvp = _zoo_numbers(path)
    for name in hvp.wrt:
        assert relative_error(hvps[name], torch[name]) <= TORCH_TOLERANCE, name


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_zoo_hvp_against_the_explicit_hessian(path):
    model = _load(path)
    dims = HESSIAN_DIMS.get(path.stem, {name: 2 for name in model.dims})
    # compared at random points to 40 digits: sympy.simplify of second derivatives
    # of sigmoids and softmaxes takes minutes
    report = verify_hvp(model, dims=dims, prove=False)
    assert report.ok, str(report)
    assert set(report.entries) == set(sbp.derive(model).params)


@pytest.mark.parametrize("path", [p for p in PATHS if p.stem in BIND],
                         ids=[p.stem for p in PATHS if p.stem in BIND])
def test_abstract_functions_stay_abstract_and_are_proved(path):
    # phi'' and the second partials of ell compared as unknown functions, proved
    # symbolically entry by entry: the derivation itself, not one choice of phi and ell
    model = _load(path, bound=False)
    report = verify_hvp(model, dims={name: 2 for name in model.dims})
    assert report.ok, str(report)
    assert set(report.entries) == set(sbp.derive(model).params)


# --- every tangent rule, through the operator table ----------------------------------------

@functools.lru_cache(maxsize=None)
def _row_model(row):
    return sbp.parse(model_text(*ROWS[row]), filename=row)


def _moving(model):
    return [n for n, v in model.variables.items() if v.role == "param"]


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("seed", [0, 1])
def test_row_hvp_against_finite_differences_and_pytorch(row, seed):
    model = _row_model(row)
    dims = {"m": 2 + seed, "n": 3, "k": 2}
    hvps, fd, torch, grads, hvp = _three_numbers(model, dims, seed)
    for name in hvp.wrt:
        assert _fd_error(hvps[name], fd[name], grads[name]) <= FD_TOLERANCE, name
        assert relative_error(hvps[name], torch[name]) <= TORCH_TOLERANCE, name


@pytest.mark.parametrize("row", ROWS)
def test_row_hvp_against_the_explicit_hessian(row):
    report = verify_hvp(_row_model(row), dims={"m": 2, "n": 2, "k": 1}, prove=False)
    assert report.ok, str(report)
    assert sum(report.entries.values()) > 0


def test_every_expression_class_in_the_table_has_a_rule_and_is_reached():
    reached = set()
    for row in ROWS:
        d = sbp.derive(_row_model(row))
        values = list(d.forward.values()) + [s.result for s in d.steps]
        for value in values:
            for e in sp.preorder_traversal(value):
                if ex.is_matrix(e) or isinstance(e, (mf.SumAll, mf.AsScalar, mf.Norm, sp.Trace)):
                    reached.add(type(e))
    ruled = {c for c in reached if rule_of(c) is not None}
    constants = {sp.MatrixSymbol, sp.OneMatrix, sp.ZeroMatrix, sp.Identity}
    assert reached - ruled - constants == set()
    for cls in (ex.Map, mf.Softmax, mf.LogSoftmax, mf.LogSumExp, mf.SumAll, mf.AsScalar,
                mf.Norm, sp.Trace, sp.HadamardProduct, sp.HadamardPower, sp.Transpose):
        assert cls in reached, cls


def test_a_class_without_a_rule_is_an_error_not_a_zero():
    A = sp.MatrixSymbol("A", 2, 2)
    with pytest.raises(TypeError, match="no tangent rule for Inverse"):
        jvp(sp.Inverse(A), {A: sp.MatrixSymbol("V", 2, 2)})


def test_the_package_classes_carry_their_rules_and_the_table_has_sympys():
    own = (ex.Map, mf.Softmax, mf.LogSoftmax, mf.LogSumExp, mf.SumAll, mf.AsScalar, mf.Norm,
           mf.Apply, mf.Partial)
    for cls in own:
        assert "_tangent" in vars(cls) and cls not in RULES, cls
    assert all(c.__module__.startswith("sympy") for c in RULES)
    # a class of the package without a rule (SecondPartial, itself a tangent) is an error
    assert rule_of(mf.SecondPartial) is None
    o, t = sp.MatrixSymbol("o", 2, 1), sp.MatrixSymbol("t", 2, 1)
    with pytest.raises(TypeError, match="no tangent rule for SecondPartial"):
        jvp(mf.SecondPartial("ell", "L", 0, 0, t, o), {o: t})


def test_a_class_rule_reads_the_sweep_it_is_handed():
    # softmax's rule names its output p (sweep.value) where the forward definition gives one
    o, p = sp.MatrixSymbol("o", 3, 1), sp.MatrixSymbol("p", 3, 1)
    V = sp.MatrixSymbol("V", 3, 1)
    named = jvp(mf.Softmax(o, 0), {o: V}, out=p)
    assert p in named.free_symbols and named.has(V)
    inside = jvp(mf.Softmax(o, 0), {o: V})
    assert p not in inside.free_symbols and inside.has(mf.Softmax)
    assert jvp(mf.Softmax(o, 0), {}) is None


# --- the textbook's derivation, in the lecturer's form --------------------------------------

TEXTBOOK = derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))


def test_textbook_tangents_read_as_a_lecturer_writes_them():
    shown = {s.node: TEXTBOOK.pretty(s.result) for s in TEXTBOOK.forward}
    assert shown == {"z": "V_W1 x", "h": "R{z} ⊙ φ'(z)", "o": "V_W2 h + W2 R{h}"}
    shown = {s.node: TEXTBOOK.pretty(s.result) for s in TEXTBOOK.backward}
    assert shown == {
        "o": "(∂²L/∂o∂oᵀ) R{o}",
        "W2": "R{∂J/∂o} hᵀ + (∂J/∂o) R{h}ᵀ + λ V_W2",
        "h": "V_W2ᵀ (∂J/∂o) + W2ᵀ R{∂J/∂o}",
        "z": "R{∂J/∂h} ⊙ φ'(z) + ∂J/∂h ⊙ φ''(z) ⊙ R{z}",
        "W1": "R{∂J/∂z} xᵀ + λ V_W1",
    }


def test_the_second_derivative_of_ell_is_a_named_quantity():
    second = [s for s in TEXTBOOK.backward if s.node == "o"][0].result
    assert isinstance(second, SecondPartial)
    assert (second.name, second.of, second.slot, second.along) == ("ell", "L", 0, 0)
    assert second.tangent == [s.symbol for s in TEXTBOOK.forward if s.node == "o"][0]


def test_phi_second_derivative_appears():
    z = [s for s in TEXTBOOK.backward if s.node == "z"][0].result
    maps = [e for e in sp.preorder_traversal(z) if isinstance(e, ex.Map)]
    bodies = {m.function.expr for m in maps}
    phi = sp.Function("phi")(ex.ENTRY)
    assert sp.Derivative(phi, (ex.ENTRY, 2)) in bodies and sp.Derivative(phi, ex.ENTRY) in bodies


def test_the_textbook_latex_shows_the_second_derivatives():
    tex = TEXTBOOK.latex()
    assert "\\phi''{\\left(\\boldsymbol{z}\\right)}" in tex
    assert "\\frac{\\partial^{2} L}{\\partial \\boldsymbol{o} \\, \\partial {\\boldsymbol{o}}^\\top}" \
        in tex
    assert "\\mathcal{R}\\left\\{\\boldsymbol{z}\\right\\}" in tex


# --- Hessian blocks in closed form ---------------------------------------------------------

def _block(text, a, b):
    d = sbp.derive(sbp.parse(text))
    return d, hessian_block(d, a, b)


def test_quadratic_form_block_is_a_plus_a_transpose():
    d, (side, M) = _block("dim n\nparam x: vector(n)\ninput A: matrix(n, n)\n"
                          "J = x.T @ A @ x\nobjective J\n", "x", "x")
    A = d.symbols["A"]
    assert side == "left" and isinstance(M, sp.MatAdd) and set(M.args) == {A, A.T}


def test_least_squares_block_is_x_transpose_x():
    text = ("dim n, d\ninput X: matrix(n, d)\ninput y: vector(n)\nparam w: vector(d)\n"
            "J = 1/2 * norm(X @ w - y)^2\nobjective J\n")
    d, (side, M) = _block(text, "w", "w")
    X = d.symbols["X"]
    assert (side, M) == ("left", sp.MatMul(X.T, X))


def test_ridge_block_adds_lambda_identity():
    d = sbp.derive(sbp.load("examples/ridge_regression.sbp"))
    side, M = hessian_block(d, "w", "w")
    X, lam = d.symbols["X"], d.symbols["lambda"]
    assert side == "left" and set(M.args) == {sp.MatMul(X.T, X), sp.MatMul(lam, sp.Identity(
        d.model.dims["d"]))}


def test_a_block_acting_on_the_right_agrees_with_the_elementwise_hessian():
    # matrix factorization: V_U -> V_U (2 VᵀV + 2 λ I), checked entry by entry at 2 x 2 x 2
    d = sbp.derive(sbp.load("examples/matrix_factorization.sbp"))
    side, M = hessian_block(d, "U", "U")
    assert side == "right"
    from symbackprop.proofs.explicit import explicit, explicit_environment
    dims = {"m": 2, "n": 2, "r": 2}
    sizes = {d.model.dims[k]: v for k, v in dims.items()}
    labels, H = elementwise_hessian(d, dims, wrt=["U"])
    env = explicit_environment(d, sizes)
    M = explicit(M, env, sizes)
    # vec(V M) row by row: entry (i, j) of V M is sum_k V[i, k] M[k, j]
    expected = sp.zeros(4, 4)
    for i in range(2):
        for j in range(2):
            for k in range(2):
                expected[2 * i + j, 2 * i + k] = M[k, j]
    assert sp.expand(H - expected) == sp.zeros(4, 4)


def test_a_block_without_a_product_form_says_so():
    d = sbp.derive(sbp.load("examples/quadratic_form.sbp"))
    assert hessian_block(d, "x", "A") is None  # V_A x + V_Aᵀ x: not M V_A


def test_the_elementwise_hessian_is_symmetric_and_matches_sympy():
    import random
    from symbackprop.proofs.explicit import explicit_environment
    from symbackprop.proofs.hessian import _agree_at_points
    d = sbp.derive(sbp.load("examples/textbook_mlp.sbp", bind=BIND["textbook_mlp"]))
    dims = {"d": 1, "h": 2, "q": 1}
    labels, H = elementwise_hessian(d, dims)
    assert len(labels) == H.rows == H.cols == 4
    sizes = {d.model.dims[k]: v for k, v in dims.items()}
    env = explicit_environment(d, sizes)
    thetas = [t for n in d.params for t in env[d.symbols[n]]]
    truth = sp.hessian(env[d.symbols["J"]], thetas)
    rng = random.Random(0)
    for i in range(4):
        for j in range(4):
            assert _agree_at_points(H[i, j], H[j, i], rng), (i, j)
            assert _agree_at_points(H[i, j], truth[i, j], rng), (i, j)


# --- depth ---------------------------------------------------------------------------------

def test_300_layers_derive_their_hvp_without_recursion_error():
    from test_deep import deep_mlp
    d = sbp.derive(sbp.parse(deep_mlp(300)))
    hvp = derive_hvp(d)
    assert len(hvp.backward) == 2 * 300 + 300 and len(hvp.forward) == 2 * 300
    # every tangent stays a handful of operations, whatever the depth
    assert max(sp.count_ops(s.result) for s in hvp.backward + hvp.forward) <= 12


# --- the command line and what users see -----------------------------------------------------

def test_cli_hvp_prints_the_tangent_steps(capsys):
    from symbackprop.cli import main
    assert main(["hvp", "examples/textbook_mlp.sbp"]) == 0
    out = capsys.readouterr().out
    assert "R{∂J/∂z} = R{∂J/∂h ⊙ φ'(z)} = R{∂J/∂h} ⊙ φ'(z) + ∂J/∂h ⊙ φ''(z) ⊙ R{z}" in out


def test_cli_hvp_code_runs_and_needs_bound_functions(capsys, tmp_path):
    from symbackprop.cli import main
    assert main(["hvp", "examples/textbook_mlp.sbp", "--format", "py"]) == 2
    assert "error: the abstract functions 'phi' and 'ell' have no numbers" in \
        capsys.readouterr().err
    out = tmp_path / "hvp.py"
    assert main(["hvp", "examples/textbook_mlp.sbp", "--format", "py", "--bind",
                 "phi=tanh,ell=squared_error", "-o", str(out)]) == 0
    compile(out.read_text(), str(out), "exec")
    capsys.readouterr()
    assert main(["hvp", "examples/textbook_mlp.sbp", "--standalone"]) == 0  # implies LaTeX
    assert capsys.readouterr().out.startswith("\\documentclass")
    assert main(["hvp", "examples/textbook_mlp.sbp", "--format", "text", "--standalone"]) == 2


def test_cli_hessian_prints_closed_forms_and_entries(capsys):
    from symbackprop.cli import main
    assert main(["hessian", "examples/ridge_regression.sbp", "--dims", "n=2,d=2"]) == 0
    out = capsys.readouterr().out
    assert "∂²J/∂w∂w: v_w -> (Xᵀ X + λ I) v_w" in out
    assert "[w[0], w[1]] = X[0,0]*X[0,1] + X[1,0]*X[1,1]" in out
    assert main(["hessian", "examples/ridge_regression.sbp", "--dims", "k=2"]) == 2


def test_textbook_second_order_document_compiles(tmp_path):
    from typeset import compiles  # exit status 0 and a PDF
    compiles(tmp_path, "hvp", TEXTBOOK.latex(standalone=True))


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_no_sympy_artefacts_in_second_order_documents(path):
    from test_golden import ARTEFACTS
    hvp = derive_hvp(sbp.derive(sbp.load(path)))
    for output in (hvp.text(), hvp.latex(), hvp.markdown()):
        assert not ARTEFACTS.search(output), ARTEFACTS.search(output)


def test_the_second_order_graph_answers_what_happens_to_the_graph(tmp_path):
    # forward-over-reverse adds a tangent per forward value and per adjoint; each reads
    # tangents, directions, and the forward values and adjoints that must be kept
    from symbackprop.printing.figures import second_order_graph
    d = sbp.derive(sbp.load(next(p for p in PATHS if p.stem == "textbook_mlp")))
    hvp = derive_hvp(d)
    g = second_order_graph(hvp)
    kinds = {n: k for n, k in g.nodes(data="kind")}
    tangents = [n for n, k in kinds.items() if k == "tangent"]
    assert len(tangents) == len(hvp.forward) + len(hvp.backward) == 8
    assert {k for k in kinds.values()} == {"variable", "adjoint", "tangent", "direction"}
    rz = next(n for n in tangents if g.nodes[n]["label_text"] == "R{∂J/∂z}")
    read = set(g.predecessors(rz))
    # R{dJ/dz} = R{dJ/dh} ⊙ φ'(z) + dJ/dh ⊙ φ''(z) ⊙ R{z}
    assert {"z", "∂J/∂h"} <= read
    assert {g.nodes[n]["label_text"] for n in read if kinds[n] == "tangent"} == {"R{∂J/∂h}",
                                                                                 "R{z}"}
    source = graph_figure(d, "tikz", standalone=True, second_order=hvp)
    assert "\\mathcal{R}\\{\\partial J/\\partial \\boldsymbol{z}\\}" in source
    if shutil.which("pdflatex"):
        tex = tmp_path / "second.tex"
        tex.write_text(source, encoding="utf-8")
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                               tex.name], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:]
    elif os.environ.get("SYMBACKPROP_REQUIRE_TEX"):
        pytest.fail("pdflatex is required")
    assert "R{∂J/∂W1}" in graph_figure(d, "dot", second_order=hvp)


@pytest.mark.parametrize("assignment, printed", [
    ("J = (w.T @ w)^2", "4 (v_wᵀ w + wᵀ v_w) w + 4 (wᵀ w) v_w"),
    ("J = sum(w) * (w.T @ w)", "(v_wᵀ w + wᵀ v_w) 𝟏"),
    ("J = (w.T @ w)^-1", "(4 (v_wᵀ w + wᵀ v_w)/(wᵀ w)³) w - (2/(wᵀ w)²) v_w"),
])
def test_scalar_factors_from_matrices_keep_their_brackets(assignment, printed):
    # a product-rule tangent of wᵀw is a sum: without brackets H v would read wrongly
    d = sbp.derive(sbp.parse(f"dim n\nparam w: vector(n)\n{assignment}\nobjective J"))
    assert printed in derive_hvp(d).text()


def test_an_abstract_function_of_scalars_has_a_second_derivative():
    model = sbp.parse("dim d\ninput x: vector(d)\ninput y: scalar\nparam w: vector(d)\n"
                      "func ell(o, y)\no = w.T @ x\nJ = ell(o, y)\nobjective J")
    assert verify_hvp(model, dims={"d": 2}).ok
    assert verify_hvp(sbp.parse("param a: scalar\nparam b: scalar\nfunc f(u, v)\n"
                                "J = f(a*b, a)\nobjective J")).ok


def test_one_value_of_an_unknown_function_spelled_two_ways_is_one_unknown():
    # the derivation writes ell''((W W) x), the chain rule ell''(W (W x)): the same value
    model = sbp.parse("dim d\ninput x: vector(d)\nparam W: matrix(d, d)\nfunc ell(o)\n"
                      "J = ell(W @ W @ x)\nobjective J")
    assert verify_hvp(model, dims={"d": 2}).ok
    assert sbp.verify(model, dims={"d": 2}).ok


def test_hessian_entries_print_in_the_forward_names_without_sympy_internals(capsys):
    from symbackprop.cli import main
    from symbackprop.proofs.explicit import explicit_environment
    d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    dims = {"d": 2, "h": 2, "q": 2}
    labels, named = elementwise_hessian(d, dims, named=True)
    _, plain = elementwise_hessian(d, dims)
    # the names stand for the forward values' entries: put them back, and the entries agree
    sizes = {d.model.dims[n]: v for n, v in dims.items()}
    env = explicit_environment(d, sizes)
    back = {}
    for name in ("z", "h", "o"):
        for k, value in enumerate(env[d.symbols[name]]):
            back[sp.Symbol(f"{name}[{k}]", real=True)] = value
    for a, b in zip(named, plain):
        assert sp.expand(a.xreplace(back) - b) == 0
    assert main(["hessian", "examples/textbook_mlp.sbp", "--dims", "d=2,h=2,q=2"]) == 0
    out = capsys.readouterr().out
    assert "[W1[0,0], W2[0,0]] = x[0]*φ'(z[0])*∂ℓ/∂o[0] + " in out
    assert "∂²ℓ/∂o[0]∂o[1]" in out and "φ''(z[0])" in out
    for internal in ("Subs", "Derivative", "ξ", "__d", "ell", "phi"):
        assert internal not in out, internal
