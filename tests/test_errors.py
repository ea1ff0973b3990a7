"""Bad models: every problem is a ModelError at the right line and column.

Each case gives model text, the exact (line, col) the error must point at, and
fragments its message must contain (the construct it names).  Positions are
1-based; a column counts characters from the start of the line.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.language import syntax as language
from profiles import examples

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOK = (ROOT / "examples" / "textbook_mlp.sbp").read_text(encoding="utf-8")

# The textbook MLP without comments, so that the tests own its line numbers.
MLP = textwrap.dedent("""\
    dim d, h, q
    input x: vector(d)
    input y: vector(q)
    param W1: matrix(h, d)
    param W2: matrix(q, h)
    const lambda: scalar
    func phi
    func ell(o, y)
    z = W1 @ x
    h = phi(z)
    o = W2 @ h
    L = ell(o, y)
    s = lambda / 2 * (norm(W1)^2 + norm(W2)^2)
    J = L + s
    objective J
    """)
PHI_AT = (7, 6)   # 'phi' in 'func phi'
ELL_AT = (8, 6)   # 'ell' in 'func ell(o, y)'

# Four lines most cases start from; the case's own statements begin at line 5.
HEAD = "dim d, h, q\ninput x: vector(d)\nparam W1: matrix(h, d)\nfunc phi\n"


def parse_error(text, **kwargs):
    """The ModelError `sbp.parse(text)` raises."""
    with pytest.raises(sbp.ModelError) as info:
        sbp.parse(text, **kwargs)
    return info.value


def assert_error(err, line, col, *fragments, absent=()):
    assert isinstance(err, sbp.ModelError) and isinstance(err, ValueError)
    assert (err.line, err.col) == (line, col), f"wrong place: {err}"
    for fragment in fragments:
        assert fragment in err.message, f"{fragment!r} not in {err.message!r}"
    for fragment in absent:
        assert fragment not in err.message, f"{fragment!r} in {err.message!r}"


def check_case(text, line, col, fragments, absent=()):
    err = parse_error(text)
    assert_error(err, line, col, *fragments, absent=absent)
    # Located: the file name and the offending line come with the error.
    assert str(err).startswith(f"<string>:{line}:{col}: error: ")
    assert err.source_line == text.split("\n")[line - 1]
    return err


def case(text, line, col, *fragments, id, absent=()):
    return pytest.param(text, line, col, fragments, absent, id=id)


# --- syntax ------------------------------------------------------------------

SYNTAX = [
    case(HEAD + "z = W1 @ x $ 2\n", 5, 12, "unexpected character '$'", id="unexpected-character"),
    case(HEAD + "z = W1 @ x; J = sum(z)\n", 5, 11, "unexpected character ';'", id="semicolon"),
    # An unclosed '(' is reported where it was opened.
    case("dim d\ninput x: vector(d)\nJ = (sum(x)", 3, 5, "'(' opened here is never closed",
         "expected ')'", "end of line", id="unclosed-parenthesis"),
    case("dim d\ninput x: vector(d)\nJ = sum((x)", 3, 8, "the call opened here is never closed",
         id="unclosed-call"),
    case("dim d\ninput x: vector(d)\nJ = sum(x))\n", 3, 11, "expected end of line", "')'",
         id="extra-closing-parenthesis"),
    case("dim d\ninput x vector(d)\n", 2, 9, "expected ':' and a type", "'vector'",
         id="missing-colon"),
    case("dim d\ninput x: tensor(d)\n", 2, 10, "unknown type 'tensor'",
         "scalar, vector(n) or matrix(m, n)", id="bad-type-name"),
    case("dim h, d\nparam W: matrix(h d)\n", 2, 19, "matrix takes 2 sizes", id="matrix-one-size"),
    case("dim d\ninput x: vector(d) postive\n", 2, 20, "unknown domain 'postive'",
         "positive, unit, onehot, simplex, symmetric or spd", "did you mean 'positive'?",
         id="misspelt-domain"),
    case("dim d\ninput x: vector(d) real\n", 2, 20, "unknown domain 'real'",
         absent=("did you mean",), id="unknown-domain-far"),
    case('dim d\ninput x: vector(d) as "x" unit\n', 2, 27, "the domain 'unit' goes after the "
         "type, before 'as'", id="domain-after-latex"),
    case("dim d\ninput x: vector(d)\nJ = x.X @ x\n", 3, 7, "expected 'T' after '.'", "'X'",
         id="dot-X-instead-of-dot-T"),
    case('dim d\ninput x: vector(d) as "\\mathbf{x}\n', 2, 23, "unterminated string",
         id="string-not-terminated"),
    case('dim d\ninput x: vector(d) as "  "\n', 2, 23, "LaTeX name is empty", id="empty-latex"),
    case("dim d\ninput x: vector(d)\nJ = sum(x) +\n", 3, 13, "expected a value", "end of line",
         id="dangling-operator"),
    case("dim d\ninput x: vector(d)\nsum(x)\n", 3, 1, "expected a statement", "'sum'",
         id="expression-statement"),
    case("dim d\n= x\n", 2, 1, "expected a statement", "'='", id="statement-starts-with-op"),
]


@pytest.mark.parametrize("text, line, col, fragments, absent", SYNTAX)
def test_syntax_error(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


# --- names -------------------------------------------------------------------

NAMES = [
    case("dim h, d\nparam weights: matrix(h, d)\ninput x: vector(d)\nz = weigths @ x\n",
         4, 5, "unknown name 'weigths'", "did you mean 'weights'?", id="unknown-name-close"),
    case(HEAD + "z = foo @ x\n", 5, 5, "unknown name 'foo'", absent=("did you mean",),
         id="unknown-name-far"),
    case(HEAD + "z = W1 @ h\n", 5, 8, "matrix(h, d) @ scalar", "multiply by a scalar",
         id="dimension-used-as-value-is-a-scalar"),
    case(HEAD + "z = tanhh(W1 @ x)\n", 5, 5, "unknown function 'tanhh'", "did you mean 'tanh'?",
         id="unknown-builtin-function-close"),
    case(HEAD + "z = phii(W1 @ x)\n", 5, 5, "unknown function 'phii'", "did you mean 'phi'?",
         id="unknown-abstract-function-close"),
    case(HEAD + "z = frobnicate(x)\n", 5, 5, "unknown function 'frobnicate'",
         absent=("did you mean",), id="unknown-function-far"),
    case("dim d, h\ninput x: vector(dd)\n", 2, 17, "unknown dimension 'dd'", "did you mean 'd'?",
         id="unknown-dimension-close"),
    case("dim d, h\nparam W: matrix(h, zzz)\n", 2, 20, "unknown dimension 'zzz'",
         absent=("did you mean",), id="unknown-dimension-far"),
    case("input x: vector(n)\n", 1, 17, "unknown dimension 'n'", "declare it on a 'dim' line",
         id="no-dims-declared"),
    case(HEAD + "z = W1 @ x\nJ = sum(u)\nu = phi(z)\nobjective J\n", 6, 9,
         "'u' is used before its definition at line 7", id="use-before-definition"),
    case(HEAD + "z = W1 @ x\nJ = sum(J)\nobjective J\n", 6, 9,
         "'J' is used before its definition at line 6", id="self-reference"),
    case(HEAD + "param x: vector(d)\n", 5, 7, "'x' is already defined at line 2",
         "exactly once", id="redefined-by-declaration"),
    case(HEAD + "z = W1 @ x\nz = phi(z)\n", 6, 1, "'z' is already defined at line 5",
         "exactly once", id="redefined-by-assignment"),
    case(HEAD + "W1 = x\n", 5, 1, "'W1' is already defined at line 3",
         id="assignment-to-declared"),
    case("dim d, h\ndim h\n", 2, 5, "dimension 'h' is already declared at line 1",
         id="redeclared-dim"),
    case("dim d, d\n", 1, 8, "dimension 'd' is already declared at line 1",
         id="redeclared-dim-same-line"),
    case(HEAD + "func phi(a)\n", 5, 6, "function 'phi' is already declared at line 4",
         id="redeclared-func"),
    case(HEAD + "func tanh\n", 5, 6, "'tanh' is a built-in function", id="func-shadows-builtin"),
    case(HEAD + "func x\n", 5, 6, "'x' is already a variable", id="func-named-as-variable"),
    case(HEAD + "sum = W1 @ x\n", 5, 1, "'sum' is a function", id="variable-named-as-builtin"),
    case(HEAD + "phi = W1 @ x\n", 5, 1, "'phi' is a function", id="variable-named-as-func"),
]


@pytest.mark.parametrize("text, line, col, fragments, absent", NAMES)
def test_name_error(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


@pytest.mark.parametrize("text, suggestion", [
    (HEAD + "z = W3 @ x\n", "W1"),
    ("dim d\ninput x1: vector(d)\nJ = sum(x2)\n", "x1"),
], ids=["W3-for-W1", "x2-for-x1"])
def test_did_you_mean_for_short_names(text, suggestion):
    err = parse_error(text)
    assert err.message.startswith("unknown name")
    assert f"did you mean '{suggestion}'?" in err.message, err.message


# --- keywords ----------------------------------------------------------------

KEYWORDS = [
    case("dim d\ninput param: vector(d)\n", 2, 7, "'param' is a keyword",
         id="keyword-as-declared-name"),
    case("dim d, as\n", 1, 8, "'as' is a keyword", id="keyword-as-dimension"),
    case("func input\n", 1, 6, "'input' is a keyword", id="keyword-as-function"),
    case("dim d\ninput x: vector(d)\nJ = sum(x) + dim\n", 3, 14, "'dim' is a keyword",
         id="keyword-as-value"),
    case("dim d\ninput x: vector(d)\nas = sum(x)\n", 3, 1, "'as' is a keyword",
         id="as-as-assignment-target"),
    case("dim d\nobjective as\n", 2, 11, "'as' is a keyword", id="keyword-as-objective"),
]


@pytest.mark.parametrize("text, line, col, fragments, absent", KEYWORDS)
def test_keyword_as_name(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


def test_statement_keyword_as_assignment_target_names_the_keyword():
    for kw in ("dim", "input", "param", "const", "func", "objective"):
        err = parse_error(f"dim d\ninput x: vector(d)\n{kw} = sum(x)\n")
        assert f"'{kw}' is a keyword" in err.message, err.message
        assert err.line == 3


# --- shapes ------------------------------------------------------------------

SHAPES = [
    case("dim h, d, q\nparam W1: matrix(h, d)\ninput x: vector(q)\nz = W1 @ x\n", 4, 8,
         "matrix(h, d) @ vector(q)", "inner sizes d and q", id="matmul-mismatch"),
    case("dim d\ninput x: vector(d)\nz = x @ x\n", 3, 7, "vector(d) @ vector(d)",
         id="matmul-two-vectors"),
    case("dim d\ninput x: vector(d)\nconst c: scalar\nz = c @ x\n", 4, 7, "scalar @ vector(d)",
         "multiply by a scalar with '*'", id="matmul-by-scalar"),
    case("dim h, d\ninput a: vector(h)\ninput b: vector(d)\nz = a * b\n", 4, 7,
         "vector(h) * vector(d)", "'*'", id="elementwise-product-unequal"),
    case("dim h, d\nparam W: matrix(h, d)\ninput x: vector(d)\nz = W * x\n", 4, 7,
         "matrix(h, d) * vector(d)", "'@'", id="star-for-matrix-product"),
    case("dim h, d\ninput a: vector(h)\ninput b: vector(d)\nz = a / b\n", 4, 7,
         "vector(h) / vector(d)", id="division-unequal"),
    case("dim h, d\ninput a: vector(h)\ninput b: vector(d)\nz = a + b\n", 4, 7,
         "vector(h) + vector(d)", id="sum-incompatible"),
    case("dim h, d\ninput a: vector(h)\ninput b: vector(d)\nz = a - b\n", 4, 7,
         "vector(h) - vector(d)", id="difference-incompatible"),
    case("dim h, d\ninput A: matrix(h, d)\ninput x: vector(h)\nz = A + x.T\n", 4, 7,
         "matrix(h, d) + vector(h).T", id="sum-row-vector-wrong-size"),
    case("dim h, d\ninput A: matrix(h, d)\ninput x: vector(h)\nz = A + x\n", 4, 7,
         "matrix(h, d) + vector(h)", "to every column, write shift_rows(X, c)",
         id="sum-column-to-columns"),
    case("dim h, d\ninput x: vector(h)\nz = sum_cols(x)\n", 3, 5, "sum_cols takes a matrix",
         "not vector(h)", id="column-sum-of-a-vector"),
    case("dim h, d\ninput A: matrix(h, d)\ninput x: vector(h)\nz = scale_cols(A, x)\n", 4, 5,
         "scale_cols(X, v): v must be a vector(d), one entry per column", "not vector(h)",
         id="column-scale-wrong-size"),
    case("dim h, d\ninput A: matrix(h, d)\ninput y: vector(d)\nz = shift_rows(A, y)\n", 4, 5,
         "shift_rows(X, c): c must be a vector(h), one entry per row", "not vector(d)",
         id="row-shift-wrong-size"),
    case("dim h, d\ninput A: matrix(h, d)\nz = trace(A)\n", 3, 5, "trace",
         "square matrix", "matrix(h, d)", id="trace-non-square"),
    case("dim h, d\ninput x: vector(h)\ninput y: vector(d)\nz = y.T @ (x + 1) @ y\n", 4, 9,
         "vector(d).T @ vector(h)", id="chained-product"),
    case("dim h, d\ninput a: vector(h)\ninput b: vector(d)\nz = max(a, b)\n", 4, 5,
         "max(vector(h), vector(d))", "same shape, or one be a scalar", id="max-unequal"),
    case("dim h\ninput a: vector(h)\nz = leaky_relu(a, a)\n", 3, 5, "leaky_relu",
         "second argument must be a scalar", id="leaky-relu-vector-slope"),
    case("dim h, d\ninput x: vector(h)\nz = max_rows(x)\n", 3, 5, "max_rows takes a matrix",
         id="max-rows-of-a-vector"),
    case("dim h\ninput a: scalar\nz = max(a)\n", 3, 5, "max takes a vector or a matrix",
         id="max-of-a-scalar"),
]

CONSTANTS = [
    case("dim h\nparam w: vector(h)\nparam a: scalar\nz = leaky_relu(w, a)\n", 4, 19,
         "second argument of leaky_relu must be a constant", "'a' is a param",
         id="leaky-relu-param-slope"),
    case("dim h\ninput r: vector(h)\ninput d: scalar\nconst c: scalar\nz = huber(r, c * d)\n",
         5, 16, "second argument of huber must be a constant", "'d' is an input",
         id="huber-input-threshold"),
    case("dim h\ninput a: vector(h)\nz = max(a, a, a)\n", 3, 5, "max takes 1 or 2 arguments, "
         "not 3", id="max-of-three"),
]


@pytest.mark.parametrize("text, line, col, fragments, absent", CONSTANTS)
def test_a_constant_operand_must_be_constant(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


def test_max_is_a_name_of_its_own():
    # max and min are built-ins now: a near miss is offered max, not softmax
    err = parse_error("dim d\ninput x: vector(d)\nJ = maxx(x)\n")
    assert "did you mean 'max'?" in err.message, err.message
    assert sbp.parse("dim d\ninput x: vector(d)\nJ = max(x)\nobjective J\n")


@pytest.mark.parametrize("text, line, col, fragments, absent", SHAPES)
def test_shape_error(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


# --- objective ---------------------------------------------------------------

OBJECTIVE = [
    case(HEAD + "z = W1 @ x\nJ = sum(z)\n", 6, 1, "no objective", "objective NAME",
         id="missing-objective"),
    case(HEAD + "z = W1 @ x\nJ = sum(z)\nK = sum(z)\nobjective J\nobjective K\n", 9, 11,
         "a second objective", "'J'", "exactly one", id="repeated-objective"),
    case(HEAD + "z = W1 @ x\nobjective z\n", 6, 11, "must be a scalar", "'z' is a vector(h)",
         id="non-scalar-objective"),
    case("dim d\ninput t: scalar\nobjective t\n", 3, 11, "the objective 't'",
         "computed by an assignment", "declared as input", id="objective-is-declared-input"),
    case(HEAD + "z = W1 @ x\nJ = sum(z)\nobjective K\n", 7, 11, "the objective 'K' is not defined",
         absent=("did you mean",), id="objective-undefined"),
    case(HEAD + "z = W1 @ x\nJ = sum(z)\nobjective Jj\n", 7, 11, "'Jj' is not defined",
         "did you mean 'J'?", id="objective-undefined-close"),
]


@pytest.mark.parametrize("text, line, col, fragments, absent", OBJECTIVE)
def test_objective_error(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


# --- calls, sizes, exponents, functions as values ----------------------------

MISC = [
    case(HEAD + "z = W1 @ x\nJ = sum(z, x)\n", 6, 5, "sum takes 1 argument, not 2",
         id="builtin-too-many-arguments"),
    case(HEAD + "J = trace()\n", 5, 5, "trace takes 1 argument, not 0",
         id="builtin-no-arguments"),
    case("dim d\ninput o: vector(d)\nfunc ell(a, b)\nJ = ell(o)\n", 4, 5,
         "ell takes 2 arguments, not 1", id="abstract-function-arguments"),
    case("input x: vector(0)\n", 1, 17, "positive whole number", "not 0", id="size-zero"),
    case("input x: vector(2.5)\n", 1, 17, "positive whole number", "not 2.5", id="size-fraction"),
    case("dim d\nparam W: matrix(d, 1e3)\n", 2, 20, "positive whole number", "not 1e3",
         id="size-exponent-notation"),
    case("dim d\ninput x: vector(d)\nconst c: scalar\ny = x ^ c\n", 4, 7,
         "power to the const 'c' is real only for positive", "'x' must be a variable declared "
         "positive", id="const-exponent-of-a-base-not-positive"),
    case("dim d\ninput x: vector(d) positive\ny = tanh(x) ^ x\n", 3, 15,
         "exponent of '^' must be a number", "'x' is an input vector(d): declare it 'const x: "
         "scalar'", id="non-const-exponent"),
    case("dim d\ninput x: vector(d)\ny = x ^ (1/(2 - 2))\n", 3, 11, "divides by zero",
         id="exponent-divides-by-zero"),
    case("dim d\ninput x: vector(d)\ny = x ^ (x.T @ x)\n", 3, 14,
         "exponent of '^' must be a number", id="expression-exponent"),
    case(HEAD + "z = phi\n", 5, 5, "'phi' is a function", "call it with parentheses",
         id="abstract-function-as-value"),
    case(HEAD + "z = W1 @ tanh\n", 5, 10, "'tanh' is a function", id="builtin-function-as-value"),
    case(HEAD + "z = W1 @ x\nJ = z(x)\n", 6, 5, "'z' is a variable, not a function",
         id="variable-called"),
    case("func ell(a, a)\n", 1, 6, "repeats a parameter name", id="repeated-parameter"),
]


@pytest.mark.parametrize("text, line, col, fragments, absent", MISC)
def test_other_error(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


# --- empty models and limits -------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n"], ids=["empty", "spaces", "blank-lines"])
def test_empty_model(text):
    assert_error(parse_error(text), 1, 1, "the model is empty")


def test_comment_only_model_has_no_objective():
    assert_error(parse_error("# nothing here\n\n# at all\n"), 3, 1, "no objective")


def test_over_long_line():
    text = "dim d\n# " + "x" * 20_000 + "\ninput x: vector(d)\n"
    assert_error(parse_error(text), 2, 1, "line too long", "20,002 characters", "10,000")


def test_over_large_model():
    assert_error(parse_error("#" * 1_000_001), 1, 1, "too large", "1,000,001")


def test_too_many_statements():
    assert_error(parse_error("dim d\n" * 20_001), 20_001, 1, "too many statements", "20000")


@pytest.mark.parametrize("text, col", [
    ("J = " + "(" * 500 + "sum(x)" + ")" * 500, 5 + language.MAX_NESTING),
    ("J = " + "sum(" * 500 + "x" + ")" * 500, 5 + 4 * language.MAX_NESTING),
    ("J = " + "-" * 500 + "sum(x)", 4 + language.MAX_NESTING),
    ("J = sum(x)" + "^2" * 500, 9 + 2 * language.MAX_NESTING),
    ("J = (" * 1 + "(\n" * 300 + "sum(x)" + ")" * 301, None),
], ids=["parentheses", "calls", "unary-minus", "powers", "parentheses-across-lines"])
def test_nesting_depth_limit(text, col):
    """Deep nesting is a ModelError (at the first level past the limit), not a RecursionError."""
    err = parse_error("dim d\ninput x: vector(d)\n" + text + "\nobjective J\n")
    assert "nested too deeply" in err.message and str(language.MAX_NESTING) in err.message
    if col is not None:
        assert (err.line, err.col) == (3, col)


def test_long_flat_chain_is_not_a_recursion_error():
    text = "dim d\ninput x: vector(d)\nJ = sum(x" + " + x" * 500 + ")\nobjective J\n"
    try:
        model = sbp.parse(text)
    except sbp.ModelError as err:
        assert err.line == 3
    else:
        assert model.variables["J"].shape.is_scalar


@pytest.mark.parametrize("where", ["size", "value"])
def test_long_number_literal(where):
    digits = "9" * 5000
    text = (f"input x: vector({digits})\n" if where == "size"
            else f"dim d\ninput x: vector(d)\nJ = sum(x) * {digits}\nobjective J\n")
    with pytest.raises(sbp.ModelError) as info:
        sbp.parse(text)
    assert info.value.line in (1, 3)
    assert "positive whole number" in info.value.message or "out of range" in info.value.message


def test_huge_exponent_literal_is_refused_at_once():
    err = parse_error("dim d\ninput x: vector(d)\nJ = sum(x) * 1e100000000\nobjective J\n")
    assert_error(err, 3, 14, "number out of range")


# --- located errors ----------------------------------------------------------

def test_error_is_located_and_renders_a_caret():
    err = parse_error(HEAD + "z = W3 @ x\nJ = sum(z)\nobjective J\n", filename="mlp.sbp")
    assert (err.filename, err.line, err.col) == ("mlp.sbp", 5, 5)
    assert len(err.errors) == 1  # the uses of z that follow are not reported again
    assert str(err) == "mlp.sbp:5:5: error: unknown name 'W3'; did you mean 'W1'?"
    assert err.render().splitlines() == [
        "mlp.sbp:5:5: error: unknown name 'W3'; did you mean 'W1'?",
        "    z = W3 @ x",
        "        ^",
    ]


def test_error_location_with_crlf_and_tabs():
    err = parse_error("dim d\r\ninput x:\tvector(q)\r\n")
    assert_error(err, 2, 17, "unknown dimension 'q'")
    assert err.source_line == "input x:\tvector(q)"


def test_error_location_inside_parentheses_spanning_lines():
    err = parse_error("dim d\ninput x: vector(d)\nJ = sum(x +\n    y)\nobjective J\n")
    assert_error(err, 4, 5, "unknown name 'y'")
    assert err.source_line == "    y)"


@pytest.mark.parametrize("text", [
    "dim d\f\ninput x: vector(q)\n",
    "# a\u2028b\ndim d\ninput x: vector(q)\n",
    "# a\x85b\ndim d\ninput x: vector(q)\n",
], ids=["form-feed", "line-separator", "next-line"])
def test_source_line_matches_reported_line(text):
    err = parse_error(text)
    assert err.message.startswith("unknown dimension 'q'")
    assert err.source_line == "input x: vector(q)"


def test_unclosed_parenthesis_on_last_line_points_into_the_file():
    text = "dim d\ninput x: vector(d)\nJ = sum((x)\n"
    err = parse_error(text)
    assert "expected ')'" in err.message
    assert err.line == 3, str(err)
    assert err.source_line == "J = sum((x)"


def test_unclosed_parenthesis_before_more_lines_points_at_it():
    err = parse_error(HEAD + "z = (W1 @ x\nJ = sum(z)\nobjective J\n")
    assert err.line == 5 or "line 5" in err.message, str(err)


# --- files -------------------------------------------------------------------

def test_load_reports_the_file(tmp_path):
    path = tmp_path / "typo.sbp"
    path.write_text(HEAD + "z = W1 @ xx\n", encoding="utf-8")
    with pytest.raises(sbp.ModelError) as info:
        sbp.load(path)
    err = info.value
    assert_error(err, 5, 10, "unknown name 'xx'", "did you mean 'x'?")
    assert err.filename == str(path)
    assert str(err).startswith(f"{path}:5:10: error: ")
    assert err.source_line == "z = W1 @ xx"


@pytest.mark.parametrize("raw, line, col", [
    (b"dim d\ninput x: vector(d)\n# caf\xe9\n", 3, 6),
    (b"\xff\xfedim d\n", 1, 1),
    (b"dim d\ninput x: vec\x80tor(d)\n", 2, 13),
], ids=["latin-1-comment", "utf-16-bom", "stray-continuation-byte"])
def test_file_not_utf8(tmp_path, raw, line, col):
    path = tmp_path / "latin.sbp"
    path.write_bytes(raw)
    with pytest.raises(sbp.ModelError) as info:
        sbp.load(path)
    assert_error(info.value, line, col, "not UTF-8")
    assert info.value.filename == str(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.sbp"
    with pytest.raises(sbp.ModelError) as info:
        sbp.load(path)
    assert_error(info.value, 0, 0, "cannot read the model")
    assert str(info.value).startswith(f"{path}: error: ")


def test_model_must_be_text():
    with pytest.raises(sbp.ModelError, match="must be text"):
        sbp.parse(b"dim d\n")


# --- bindings and numbers ----------------------------------------------------

def test_unbound_abstract_function_when_numbers_are_asked_for():
    derivation = sbp.derive(sbp.parse(MLP, filename="mlp.sbp"))
    with pytest.raises(sbp.ModelError) as info:
        derivation.lambdify()
    err = info.value
    assert_error(err, *PHI_AT, "abstract functions 'phi' and 'ell' have no numbers",
                 "phi=tanh,ell=squared_error")
    assert err.filename == "mlp.sbp" and err.source_line == "func phi"
    with pytest.raises(sbp.ModelError) as info:
        derivation.lambdify({"phi": "tanh"})
    assert_error(info.value, *ELL_AT, "abstract function 'ell' has no numbers")


@pytest.mark.parametrize("bindings, line, col, fragments", [
    ({"phi": "sum"}, *PHI_AT, ("cannot bind 'phi' to 'sum'", "elementwise")),
    ({"nope": "tanh"}, 0, 0, ("cannot bind 'nope'", "declares no abstract function")),
    ({"ell": "tanh"}, *ELL_AT, ("cannot bind 'ell' to 'tanh'", "takes 2 arguments")),
    ({"phii": "tanh"}, 0, 0, ("cannot bind 'phii'", "did you mean 'phi'?")),
    ({"phi": "tanhh"}, 0, 0, ("cannot bind 'phi' to 'tanhh'", "no such built-in",
                              "did you mean 'tanh'?")),
], ids=["elementwise-to-reduction", "unknown-function", "scalar-to-elementwise",
        "unknown-function-close", "unknown-builtin"])
def test_bad_binding(bindings, line, col, fragments):
    model = sbp.parse(MLP)
    with pytest.raises(sbp.ModelError) as info:
        model.bind(bindings)
    assert_error(info.value, line, col, *fragments)
    with pytest.raises(sbp.ModelError) as info:
        sbp.parse(MLP, bind=bindings)
    assert_error(info.value, line, col, *fragments)


def test_good_binding_still_parses():
    model = sbp.parse(MLP).bind({"phi": "tanh", "ell": "squared_error"})
    assert model.unbound == []


# --- injection ---------------------------------------------------------------

def test_injection_is_rejected_and_never_run(tmp_path):
    marker = tmp_path / "pwned_xyz"
    head = "dim d\ninput x: vector(d)\n"
    attempts = [
        (f"J = __import__('os').system('touch {marker}')", "unexpected character"),
        ("J = __import__(os).system(x)", "'.T' is the only attribute"),
        ("J = sum(__import__(x))", "unknown function '__import__'"),
        ("J = sum(x).__class__.__bases__", "'.T' is the only attribute"),
        ("J = sum(__class__)", "unknown name '__class__'"),
        ("J = sum(x.__class__)", "'.T' is the only attribute"),
        ("J = eval(x)", "unknown function 'eval'"),
        ("J = sum(x); import os", "unexpected character ';'"),
    ]
    for expr, fragment in attempts:
        err = parse_error(head + expr + "\nobjective J\n")
        assert err.line == 3 and err.col > 0
        assert fragment in err.message, (expr, err.message)
    assert not marker.exists()


def test_text_in_latex_names_is_never_evaluated(tmp_path, monkeypatch):
    """A LaTeX name is free text: accepted, printed, and never run."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    payload = "open('pwned', 'w').write('x')"  # Python, and LaTeX that compiles
    text = (f'dim d\nparam w: vector(d) as "{payload}"\nfunc phi as "{payload}"\n'
            f'J = sum(phi(w)) as "{payload}"\nobjective J\n')
    derivation = sbp.derive(sbp.parse(text))
    derivation.text()
    derivation.latex()
    f = derivation.lambdify({"phi": "tanh"})
    J, grads = f(w=[0.0, 0.5])
    assert J == pytest.approx(math.tanh(0.0) + math.tanh(0.5))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["__class__", "__builtins__", "__import__", "np", "exec"])
def test_python_names_as_variables_are_harmless(name):
    """Names Python treats specially are plain variables; generated code does not use them."""
    model = sbp.parse(f"dim n\nparam {name}: vector(n)\nJ = {name}.T @ {name}\nobjective J\n")
    J, grads = sbp.derive(model).lambdify()(**{name: [1.0, 2.0]})
    assert J == 5.0 and list(grads[name]) == [2.0, 4.0]


# --- fuzzing -----------------------------------------------------------------

def _parse_or_model_error(text):
    try:
        sbp.parse(text)
    except sbp.ModelError as err:
        assert err.line >= 0 and err.col >= 0
        assert isinstance(str(err), str) and isinstance(err.render(), str)


@settings(max_examples=examples(200), deadline=5000)
@given(st.text())
def test_random_text_raises_only_model_error(text):
    _parse_or_model_error(text)


_EDIT_CHARS = st.one_of(st.characters(), st.sampled_from(list("()@*+-/^.,:=#\"\n\t xyzhTW12")))


@st.composite
def mutated_textbook(draw):
    text = TEXTBOOK
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["delete", "insert", "replace"]))
        if edit == "delete":
            text = text[:pos] + text[pos + 1:]
        elif edit == "insert":
            text = text[:pos] + draw(_EDIT_CHARS) + text[pos:]
        else:
            text = text[:pos] + draw(_EDIT_CHARS) + text[pos + 1:]
    return text


@settings(max_examples=examples(200), deadline=5000)
@given(mutated_textbook())
def test_mutated_textbook_raises_only_model_error(text):
    _parse_or_model_error(text)


def test_textbook_model_parses():
    """The mutation test's starting point is a good model."""
    assert sbp.parse(TEXTBOOK).objective == "J"


def test_independent_errors_are_reported_together():
    text = ("dim d, h\ninput x: vector(d)\nparam W1: matrix(h, d)\nparam W2: matrix(h, k)\n"
            "z = W1 @ xx\nh = tanh(z)\nq = W1 @ W1\nJ = sum(h) + sum(q) +\nobjective J\n")
    err = parse_error(text)
    assert [(e.line, e.col) for e in err.errors] == [(8, 22)]  # syntax first, alone
    err = parse_error(text.replace("sum(q) +", "sum(q)"))
    assert [(e.line, e.col) for e in err.errors] == [(4, 21), (5, 10), (7, 8)]
    assert "unknown dimension 'k'" in err.errors[0].message
    assert "unknown name 'xx'" in err.errors[1].message
    assert "matrix(h, d) @ matrix(h, d)" in err.errors[2].message
    assert err.render().endswith("3 errors")


def test_syntax_errors_on_several_lines_are_reported_together():
    err = parse_error("dim d\ninput x: vector(d) $\nJ = sum(x))\nobjective J\n")
    assert [(e.line, e.col) for e in err.errors] == [(2, 20), (3, 11)]


def test_a_hostile_file_name_does_not_reach_the_generated_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = 'm"""\nopen("pwned", "w")\n""".sbp'
    (tmp_path / name).write_text("dim n\nparam w: vector(n)\nJ = w.T @ w\nobjective J\n",
                                 encoding="utf-8")
    f = sbp.derive(sbp.load(name)).lambdify()
    assert f(w=[1.0, 2.0])[0] == 5.0
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("text, at", [
    ("dim n\nparam x: vector(n)\nconst n: scalar\nJ = mean(x) * n\nobjective J\n", (3, 7)),
    ("dim n\nparam x: vector(n)\nn = sum(x)\nobjective n\n", (3, 1)),
])
def test_a_scalar_named_like_a_dimension_is_refused(text, at):
    # both would print as n: (1/n) n could mean either
    with pytest.raises(sbp.ModelError, match="has the name of a dimension") as info:
        sbp.parse(text)
    assert (info.value.line, info.value.col) == at


def test_a_function_of_arguments_stays_scalar_valued_when_bound():
    text = ("dim n, m\ninput X: matrix(n, m)\ninput s: vector(n)\nfunc ell(a, b)\n"
            "L = ell(X, s)\nJ = sum(L)\nobjective J\n")
    assert sbp.parse(text).variables["L"].shape.is_scalar
    with pytest.raises(sbp.ModelError, match="'ell' is bound to 'scale_rows'.*scalar-valued"):
        sbp.parse(text).bind({"ell": "scale_rows"})


@pytest.mark.parametrize("name, unsafe", [
    ("\\input{/etc/passwd}", "\\input"), ("\\immediate\\write18{touch x}", "\\immediate"),
    ("^^5cinput{x}", "^^"), ("\\def\\x{y}", "\\def"), ("x}{", "an unmatched '}'"),
    ("{x", "an unclosed '{'"), ("a#1", "'#'"), ("$x$", "'$'"), ("50%", "'%'"),
    ("\\end{document}", "\\end"), ("\\catcode`\\@=11", "\\catcode"),
    ("\\immediate\\openout5=p.tex", "\\immediate"), ("\\csname input\\endcsname", "\\csname"),
    ("\\directlua{os.exit()}", "\\directlua"), ("\\mathrm{\\input{x}}", "\\input"),
    # accepted commands put where pdflatex stops at them
    ("x^", "^ without its argument"), ("\\hat", "\\hat without its argument"),
    ("x^\\hat{y}", "^ without its argument"), ("x_1_2", "a double subscript"),
    ("x^{a}^{b}", "a double superscript"), ("x^2'", "a double superscript"),
    ("\\left(x", "\\left without its \\right"), ("x\\right)", "\\right without its \\left"),
    ("{\\left(}\\right)", "\\left without its \\right"),
    ("\\left x", "\\left without a delimiter"),
    ("\\text{a_b}", "_ in \\text"), ("\\text{\\alpha}", "\\alpha in \\text"),
    ("\\mathscr{X}", "\\mathscr"),
])
def test_a_latex_name_that_could_act_is_refused_where_it_is_written(name, unsafe):
    # a LaTeX name is compiled wherever the derivation is: none may read, write or define
    text = f'dim n\nparam w: vector(n) as "{name}"\nJ = sum(w)\nobjective J\n'
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(text, "m.sbp")
    assert (caught.value.line, caught.value.col) == (2, 23)
    assert f"uses {unsafe}," in caught.value.message


def test_harmless_latex_names_are_kept():
    text = ('dim n\nparam w: vector(n) as "\\hat{\\boldsymbol{\\theta}}^{(k)}_{\\mathrm{in}}"\n'
            'J = sum(w)\nobjective J\n')
    latex = sbp.derive(sbp.parse(text)).latex()
    assert "\\hat{\\boldsymbol{\\theta}}^{(k)}_{\\mathrm{in}}" in latex


# --- a newcomer's habits from other notations ----------------------------------------------

HABITS = [
    case("dim n\nparam w: vector(n)\nJ = w' @ w\nobjective J\n", 3, 6,
         "a transpose is written x.T, not x'", id="prime-transpose"),
    case("dim n\nparam λ: scalar\nJ = λ\nobjective J\n", 2, 7, "write lambda (it prints as λ)",
         id="greek-letter"),
    case("param Σ: scalar\nJ = Σ\nobjective J\n", 1, 7, "write Sigma (it prints as Σ)",
         id="capital-greek-letter"),
    case("param a: scalar\nJ = a ** 2\nobjective J\n", 2, 7, "a power is written ^, not **",
         id="double-star-power"),
    case("dim n\nparam w: vector(n)\nJ = w^T @ w\nobjective J\n", 3, 7,
         "a transpose is written w.T, not w^T", id="caret-T-transpose"),
]


@pytest.mark.parametrize("text, line, col, fragments, absent", HABITS)
def test_a_habit_from_another_notation_is_named(text, line, col, fragments, absent):
    check_case(text, line, col, fragments, absent)


def test_a_const_named_T_is_an_exponent():
    sbp.parse("dim n\ninput x: vector(n) positive\nconst T: scalar\nJ = sum(x ^ T)\n"
              "objective J\n")


def test_a_param_that_does_not_reach_the_objective_is_a_warning_where_derived():
    model = sbp.parse("dim n\nparam w: vector(n)\nparam u: vector(n)\nJ = sum(w)\nobjective J\n",
                      filename="m.sbp")  # parsing is silent: the model is valid
    with pytest.warns(sbp.ModelWarning) as caught:
        d = sbp.derive(model)
    assert [str(w.message) for w in caught] == [
        "m.sbp:3:7: warning: ∂J/∂u = 0: u does not reach J"]
    assert "u" not in d.order and "∂J/∂u = 0" in d.text()


def test_the_command_line_shows_the_warning_and_succeeds(tmp_path, capsys):
    from symbackprop.cli import main
    path = tmp_path / "m.sbp"
    path.write_text("dim n\nparam w: vector(n)\nparam u: vector(n)\nJ = sum(w)\nobjective J\n")
    assert main(["derive", str(path)]) == 0
    assert f"{path}:3:7: warning: ∂J/∂u = 0: u does not reach J" in capsys.readouterr().err
