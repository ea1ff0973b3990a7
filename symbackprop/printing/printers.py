"""Printing derivations as a lecturer writes them: LaTeX and Unicode text.

Both printers extend SymPy's by dispatch (``_print_<Class>``) for the classes
of :mod:`symbackprop.primitives.expressions` and
:mod:`symbackprop.primitives.matrix_functions`, for adjoint symbols (dJ/dz) and for
the model's names.  An entrywise function prints as the scalar function applied to
the matrix, ``φ'(z)``, ``1 - tanh²(z)``, never as SymPy's
``ElementwiseApplyFunction`` or ``Lambda``.

Both take the names of :func:`symbackprop.printing.names.display_names` and a
:class:`~symbackprop.printing.names.Notation`.  Whole documents are in
:mod:`symbackprop.printing.documents`.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions import HadamardProduct, MatrixSymbol
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from ..language.spelling import default_latex, unicode_name
from ..primitives import expressions as ex
from ..primitives import matrix_functions as mf
from ..primitives import pieces
from ..primitives.linear_algebra import LogDet
from ..primitives.functions import TABLE, operator_latex
from ..primitives.reductions import unfixed_ones
from .indicators import LatexIndicators, TextIndicators
from .inverses import ACCENTS as _ACCENTS, LatexInverses, TextInverses
from ..primitives.blocks import Stack
from .blocks import BlockLatex, BlockText
from .entrywise import EntrywiseFunctions, hadamard_body
from .names import BOLD, TRANSPOSE, Notation, is_tangent_name
from .windows import WindowLatex, WindowText

__all__ = ["TextPrinter", "MatrixLatexPrinter"]

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


class _Common(EntrywiseFunctions):
    """What the two printers share: names, and the classes both print alike."""

    def __init__(self, names=None, notation=Notation(), **settings):
        super().__init__(settings)
        self.names = dict(names or {})
        self.notation = notation
        self.plain_operands = {}
        self.entries = set()
        self.sized_ones = frozenset()

    def doprint(self, expr):
        expr = self._symmetric_inverses(expr)  # X⁻ᵀ of a declared symmetric X is X⁻¹
        # the 𝟏 of a formula that is a spread, 𝟏 vᵀ or v 𝟏ᵀ, is written with its size, 𝟏_n:
        # nothing else in the formula says how many rows (columns) the result has
        saved, self.sized_ones = self.sized_ones, unfixed_ones(expr)
        try:
            return super().doprint(expr)
        finally:
            self.sized_ones = saved

    def _ones_size(self, expr):
        """The size a vector of ones is written with, or None (its size is fixed around it)."""
        if expr not in self.sized_ones:
            return None
        return self._print(expr.rows if expr.cols == 1 else expr.cols)

    def _name(self, key):
        return self.names.get(key)

    def _function_name(self, name):
        shown = self.names.get(("func", name)) or self.names.get(("builtin", name))
        if shown is not None:
            return shown
        return self._builtin_function(name)

    def _arg(self, arg):
        """A function's argument: a stand-in prints without the brackets a call already has."""
        return self.plain_operands.get(arg) or self._print(arg)

    def _print_Subs(self, expr):
        # φ'(tr(W)): SymPy writes the derivative of an abstract function at a compound
        # scalar as Subs(Derivative(φ(ξ), ξ), ξ, tr(W)); a lecturer writes φ'(tr(W))
        d = expr.expr
        if isinstance(d, sp.Derivative) and len(expr.variables) == 1:
            (variable,), (point,) = expr.variables, expr.point
            f = d.expr
            if isinstance(f, sp.Function) and f.args == (variable,) \
                    and set(d.variables) == {variable}:
                stand_in = sp.Symbol(f"\0subs{len(self.names)}")
                operand = self._print(point)
                self.names[stand_in] = operand
                self.plain_operands[stand_in] = operand
                return self._print(d.xreplace({variable: stand_in}))
        return super()._print_Subs(expr)

    def _print_AsScalar(self, expr):
        return self._print(expr.arg)

    def _as_ordered_terms(self, expr, order=None):
        # a piecewise derivative as a lecture writes it, the plain term first:
        # 𝟙[z > 0] + a 𝟙[z ≤ 0], Φ(z) + z φ(z) (SymPy's order puts them the other way)
        terms = super()._as_ordered_terms(expr, order=order)
        if expr.has(sp.Heaviside, pieces.normal_cdf):
            terms = sorted(terms, key=lambda t: len(sp.Mul.make_args(t)))
        return terms

    def _is_adjoint(self, arg):
        return isinstance(arg, (sp.Symbol, MatrixSymbol)) and arg.name.startswith("∂")

    def _compound(self, arg):
        """Whether `arg` needs brackets as a factor of a product."""
        if isinstance(arg, (sp.MatAdd, sp.Add, HadamardProduct)):
            return True
        if isinstance(arg, sp.OneMatrix) and arg.rows != 1 and arg.cols != 1:
            return True  # 𝟏 𝟏ᵀ, a product
        if isinstance(arg, mf.AsScalar) and isinstance(arg.arg, (sp.MatMul, sp.MatAdd)):
            return True  # 4 (xᵀ x) x, not 4 xᵀ x x
        if isinstance(arg, ex.Map):  # 1 - tanh^2(z), -phi(z): a sum or a sign inside
            body = arg.function.expr
            return body.is_Add or body.could_extract_minus_sign() or hadamard_body(body)
        return False

    def _power_base(self, base):
        """`base` printed as the base of a power: bracketed unless an atom or a call."""
        text = self._print(base)
        if isinstance(base, (MatrixSymbol, sp.Symbol)) and not self._is_adjoint(base):
            return text
        if isinstance(base, ex.Map) and not self._compound(base):
            return text  # σ(z)^⊙2: a call closes itself
        return self._parens(text)

    def _factor(self, arg):
        """`arg` as a factor of a product, bracketed where juxtaposition would misread."""
        text = self._print(arg)
        # ∂J/∂o, and a named partial ∂L/∂o (not ∂₁ℓ(o, y), whose call closes it)
        fraction = self._is_adjoint(arg) or (isinstance(arg, mf.Partial)
                                             and not text.endswith(")"))
        adjoint = fraction and self.bracket_adjoints
        return self._parens(text) if self._compound(arg) or adjoint else text

    def _hadamard_factor(self, arg):
        text = self._print(arg)
        # ⊙ is associative: a Hadamard product (or a Map printed as one) needs no brackets
        flat = isinstance(arg, HadamardProduct) or (isinstance(arg, ex.Map)
                                                    and hadamard_body(arg.function.expr))
        compound = self._compound(arg) and not flat
        product = isinstance(arg, sp.MatMul) or (isinstance(arg, sp.OneMatrix)
                                                 and arg.rows != 1 and arg.cols != 1)
        # a/b ⊙ c reads as (a/b) ⊙ c and as a/(b ⊙ c): a quotient next to ⊙ is bracketed
        return self._parens(text) if compound or product or _inline_quotient(text) else text

    def _print_MatMul(self, expr):
        # Written here, from the factors, rather than by SymPy: its version
        # treats an entrywise function as an atom (dropping the brackets of
        # 1 - tanh^2(z)) and is slow on deep expressions.
        coeff, mats = ex._split(expr)
        sign = ""
        if coeff.could_extract_minus_sign():
            sign, coeff = "-", -coeff
        parts = []
        if coeff != 1:
            text = self._print(coeff)
            if text.startswith("-") and not coeff.is_Add:  # -log(k): SymPy keeps its sign
                sign, text = ("" if sign else "-"), text[1:].lstrip()
            # (∂J/∂o) x, as for a matrix adjoint: ∂J/∂o x would read as ∂J/∂(o x)
            named = any(self._is_adjoint(f) or isinstance(f, mf.Partial)
                        for f in sp.Mul.make_args(coeff)) and self.bracket_adjoints
            # a/b x reads as a/(b x) in text: the slash fraction is bracketed there too
            fraction = self.slash_fractions and "/" in text and not named
            parts.append(self._parens(text) if coeff.is_Add or named or fraction
                         or self._compound(coeff) else text)
        parts += [self._factor(m) for m in mats]
        return sign + " ".join(parts)

    def _print_MatAdd(self, expr):
        out = ""
        for i, term in enumerate(expr.args):
            text = self._print(term)
            if i and text.startswith("-"):
                out += " - " + text[1:]
            else:
                out += (" + " if i else "") + text
        return out

    def _print_Partial(self, expr):
        # dL/do when o is a plain variable in one argument slot; otherwise the
        # partial in the k-th argument, d_k ell(args), which cannot be misread.
        operand = expr.call_args[expr.slot]
        if isinstance(operand, (sp.Symbol, MatrixSymbol)) and expr.call_args.count(operand) == 1:
            of = self._name(("var", expr.of)) or self._function_name(expr.of)
            if self.names.get(("partial", of, operand), 1) == 1:
                return self._partial(of, self._print(operand))
        args = ", ".join(self._print(a) for a in expr.call_args)
        return self._nth_partial(expr.slot + 1, self._function_name(expr.name), args)

    def _print_SecondPartial(self, expr):
        # d2L/do do^T R{o} for vectors (the Hessian matrix times a vector); for a matrix,
        # the Hessian applied to a matrix, d2L/dO2 [R{O}]; with compound arguments, the
        # second partial in the k-th and m-th arguments.
        slot, along = expr.call_args[expr.slot], expr.call_args[expr.along]
        tangent = self._print(expr.tangent)
        named = all(isinstance(a, (sp.Symbol, MatrixSymbol)) and expr.call_args.count(a) == 1
                    for a in (slot, along))
        if not named:
            args = ", ".join(self._print(a) for a in expr.call_args)
            second = self._second_partial_by_slots(expr.slot + 1, expr.along + 1,
                                                   self._function_name(expr.name), args)
            return self._applied(second, tangent)
        of = self._name(("var", expr.of)) or self._function_name(expr.of)
        if any(self.names.get(("partial", of, a), 1) > 1 for a in (slot, along)):
            args = ", ".join(self._print(a) for a in expr.call_args)
            second = self._second_partial_by_slots(expr.slot + 1, expr.along + 1,
                                                   self._function_name(expr.name), args)
            return self._applied(second, tangent)
        columns = all(ex.is_matrix(a) and a.shape[1] == 1 or not ex.is_matrix(a)
                      for a in (slot, along))
        second = self._second_partial(of, self._print(slot), self._print(along),
                                      slot == along, columns)
        if columns:  # a vector or a scalar: the Hessian matrix times the tangent
            return f"{self._parens(second)} {self._factor(expr.tangent)}"
        return self._applied(second, tangent)


def _inline_quotient(text):
    """Whether `text` has a slash outside its brackets that divides (not the bar of a named
    partial, ∂J/∂z)."""
    depth = 0
    for i, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "/" and depth == 0 and not text.startswith("∂", i + 1):
            return True
    return False


class TextPrinter(BlockText, WindowText, _Common, TextIndicators, TextInverses, StrPrinter):
    """Unicode text: ``(∂J/∂o) hᵀ + λ W2``, ``∂J/∂h ⊙ φ'(z)``."""

    bracket_adjoints = True  # ∂J/∂o hᵀ would read as ∂J/∂(o hᵀ)
    slash_fractions = True  # a scalar quotient is written a/b

    def _parens(self, text):
        return f"({text})"

    def _builtin_function(self, name):
        row = TABLE.get(name)
        return name if row is None else row.text

    def _print_Symbol(self, expr):
        return self._name(expr) or unicode_name(expr.name)

    _print_MatrixSymbol = _print_Symbol

    def _print_Mul(self, expr):
        # As a lecturer writes: (λ/2) (‖W1‖² + ‖W2‖²), not λ*(‖W1‖² + ‖W2‖²)/2; an inline
        # slash followed by a factor is bracketed, a/b c reading as (a/b) c or a/(b c)
        entrywise = self._entrywise_product(expr)
        if entrywise is not None:
            return entrywise
        coeff, factors = expr.as_coeff_mul()
        if not coeff.is_Rational:
            return super()._print_Mul(expr)
        if any(f.is_Pow and f.exp.is_negative for f in factors):
            numerator, denominator = sp.fraction(expr)
            top, bottom = self._print(numerator), self._print(denominator)
            # a product of scalars over b reads alike either way, a b/c = (a b)/c; a bare
            # product of matrices does not: vᵀ G v/c might be vᵀ G (v/c)
            matrices = isinstance(numerator, mf.AsScalar) and isinstance(numerator.arg,
                                                                           sp.MatMul)
            top = self._parens(top) if numerator.is_Add or self._is_adjoint(numerator) \
                or matrices else top
            bottom = bottom if _atomic(denominator) else self._parens(bottom)
            return f"{top}/{bottom}"
        sign = "-" if coeff < 0 else ""
        coeff = abs(coeff)
        parts = [self._factor(f) for f in factors]
        if coeff.q != 1 and coeff.p == 1 and len(parts) == 1 and not factors[0].is_Add:
            parts[0] = f"{parts[0]}/{coeff.q}"  # ‖r‖²/2
        elif coeff.q != 1 and coeff.p == 1 and parts and not factors[0].is_Add:
            parts[0] = f"({parts[0]}/{coeff.q})"  # (λ/2) ‖w‖²
        elif coeff.q != 1 and parts:
            parts.insert(0, f"({coeff})")  # (2/7) δ²
        elif coeff != 1:
            parts.insert(0, str(coeff))
        return sign + " ".join(parts)

    def _hadamard_join(self, factors):
        return " ⊙ ".join(factors)

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self._hadamard_factor(a) for a in expr.args)

    def _print_HadamardPower(self, expr):
        exponent = self._print(expr.exp)
        if not (expr.exp.is_Integer if hasattr(expr.exp, "is_Integer") else False):
            exponent = self._parens(exponent)  # x^⊙(-1/2), not x^⊙-1/2 (a power, then /2?)
        return f"{self._power_base(expr.base)}^⊙{exponent}"

    def _print_Transpose(self, expr):
        inverse = self._inverse_transpose(expr)
        if inverse is not None:
            return inverse
        inner = self._print(expr.arg)
        bare = isinstance(expr.arg, MatrixSymbol) and (not any(c in inner for c in "/∇ ")
                                                       or is_tangent_name(inner)) \
            or isinstance(expr.arg, Stack)  # [h; x]ᵀ: its brackets close it
        return (inner if bare else f"({inner})") + "ᵀ"

    def _print_Derivative(self, expr):
        f = expr.expr
        if isinstance(f, sp.Function) and len(f.args) == 1 and set(expr.variables) == {f.args[0]}:
            primes = _primes(len(expr.variables), latex=False)
            return f"{self._function_name(f.func.__name__)}{primes}({self._arg(f.args[0])})"
        return super()._print_Derivative(expr)

    def _print_Function(self, expr):
        name = type(expr).__name__
        return f"{self._function_name(name)}({', '.join(self._arg(a) for a in expr.args)})"

    def _print_Exp1(self, expr):
        return "e"  # Euler's number, as in the LaTeX; SymPy's text writes E

    def _print_OneMatrix(self, expr):
        # 𝟏 is a vector of ones; a matrix of ones is written as the product 𝟏 𝟏ᵀ
        if expr.rows != 1 and expr.cols != 1:
            return "𝟏 𝟏ᵀ"
        size = self._ones_size(expr)
        one = "𝟏" if size is None else f"𝟏_{size}"
        return one + "ᵀ" if expr.rows == 1 and expr.cols != 1 else one

    def _print_Identity(self, expr):
        # a name printed I would read as the identity: the identity then gets its size
        sized = self._sized_identity() or "I" in self.names.values()
        return f"I_{self._print(expr.rows)}" if sized else "I"

    def _print_NamedCall(self, expr):
        return f"{expr.call_text}({self._print(expr.arg)})"

    def _print_Norm(self, expr):
        return f"‖{self._print(expr.arg)}‖"

    def _print_Trace(self, expr):
        return f"tr({self._print(expr.arg)})"

    def _print_Apply(self, expr):
        args = ", ".join(self._print(a) for a in expr.call_args)
        return f"{self._function_name(expr.name)}({args})"

    def _partial(self, of, wrt):
        return f"∂{of}/∂{wrt}"

    def _nth_partial(self, k, name, args):
        return f"∂{str(k).translate(_SUBSCRIPT)}{name}({args})"

    def _second_partial(self, of, slot, along, same, columns):
        if same:
            return f"∂²{of}/∂{slot}∂{slot}ᵀ" if columns else f"∂²{of}/∂{slot}²"
        return f"∂²{of}/∂{slot}∂{along}{'ᵀ' if columns else ''}"

    def _second_partial_by_slots(self, k, m, name, args):
        return f"∂{str(k).translate(_SUBSCRIPT)}∂{str(m).translate(_SUBSCRIPT)}{name}({args})"

    def _applied(self, operator, operand):
        return f"{operator} [{operand}]"

    def _plain(self, name):
        return unicode_name(name)

    def _print_Pow(self, expr):
        entrywise = self._entrywise_power(expr)
        if entrywise is not None:
            return entrywise
        if isinstance(expr.base, sp.Heaviside) and expr.exp.is_Integer and expr.exp > 0:
            return self._print(expr.base)  # an indicator's power is itself: 𝟙[a > 0]
        if expr.exp.is_Integer and expr.exp > 1 and isinstance(expr.base, sp.Symbol):
            return self._print(expr.base) + str(expr.exp).translate(_SUPERSCRIPT)
        if expr.exp.is_Integer and expr.exp > 1 and isinstance(expr.base, (mf._ScalarOfMatrix,
                                                                            sp.Trace)):
            # ‖W‖², sum(x)², (xᵀ y)²: a superscript, as elsewhere in the text
            base = self._print(expr.base)
            if isinstance(expr.base, mf.AsScalar) and not isinstance(expr.base.arg,
                                                                     sp.MatrixSymbol) \
                    or isinstance(expr.base, LogDet):  # (log det X)², not log det(X)²
                base = f"({base})"
            return base + str(expr.exp).translate(_SUPERSCRIPT)
        if expr.exp.is_Integer and expr.exp > 1 and isinstance(expr.base, sp.Function):
            base = self._print(expr.base)
            name, _, rest = base.partition("(")
            return f"{name}{str(expr.exp).translate(_SUPERSCRIPT)}({rest}"
        if expr.exp.is_Integer and expr.exp > 1:
            # (a - b)², not Python's (a - b)**2
            base = self._print(expr.base)
            base = base if _atomic(expr.base) else self._parens(base)
            return base + str(expr.exp).translate(_SUPERSCRIPT)
        if expr.exp == sp.Rational(1, 2):
            return f"sqrt({self._arg(expr.base)})"
        if expr.exp.is_negative:
            return f"1/{self._power_text(expr.base, -expr.exp)}"
        return self._power_text(expr.base, expr.exp)

    def _power_text(self, base, exponent):
        text = self._print(base)
        if exponent == sp.Rational(1, 2):
            return f"sqrt({text})"
        text = text if _atomic(base) else self._parens(text)
        if exponent == 1:
            return text
        if exponent.is_Integer:
            return text + str(exponent).translate(_SUPERSCRIPT)
        return f"{text}^({self._print(exponent)})"




def _applied(name, args):
    """A function applied, ``\\phi{\\left(z\\right)}``: the braces make the bracketed
    arguments one ordinary symbol, so TeX puts no space between the name and its brackets
    (it would after ``\\phi\\left(``, printing φ (z))."""
    return f"{name}{{\\left({args}\\right)}}"


class MatrixLatexPrinter(BlockLatex, WindowLatex, _Common, LatexIndicators, LatexInverses,
                         LatexPrinter):
    """LaTeX in the textbook's notation: bold matrices, ``^\\top``, ``\\odot``, ``\\phi'``."""

    slash_fractions = False  # \frac{a}{b} delimits itself

    def _parens(self, text):
        return f"\\left({text}\\right)"

    @property
    def bracket_adjoints(self):
        # \frac{dJ}{do} h^T reads well; nabla_o J h^T would read as nabla of (J h^T)
        return self.notation.nabla

    def _builtin_function(self, name):
        row = TABLE.get(name)
        return operator_latex(name) if row is None else row.latex

    def _print_Symbol(self, expr, style="plain"):
        return self._name(expr) or default_latex(expr.name)

    def _print_MatrixSymbol(self, expr):
        return self._name(expr) or default_latex(expr.name, bold=True,
                                                 bold_macro=BOLD[self.notation.bold])

    def _print_Mul(self, expr):
        # As a lecturer writes: \frac{\lambda}{2} (...), not \frac{\lambda (...)}{2}.
        entrywise = self._entrywise_product(expr)
        if entrywise is not None:
            return entrywise
        sums = [f for f in expr.args if isinstance(f, mf.AsScalar)
                and isinstance(f.arg, sp.MatAdd)]
        if sums:  # -(aᵀ b + cᵀ d): SymPy's LaTeX takes the scalar for an atom and drops ( )
            rule = {}
            for f in sums:
                stand_in = sp.Symbol(f"\0sum{len(self.names)}")
                self.names[stand_in] = self._parens(self._print(f))
                rule[f] = stand_in
            return self._print(expr.xreplace(rule))
        coeff, factors = expr.as_coeff_mul()
        if any(f.is_Pow and f.exp.is_negative for f in factors) or not coeff.is_Rational \
                or coeff.q == 1 or not factors:
            return super()._print_Mul(expr)
        sign = "-" if coeff < 0 else ""
        coeff = abs(coeff)
        parts = [self._parens(self._print(f)) if f.is_Add else self._print(f) for f in factors]
        if coeff.p == 1 and not factors[0].is_Add:
            parts[0] = f"\\frac{{{parts[0]}}}{{{coeff.q}}}"
        else:
            parts.insert(0, f"\\frac{{{coeff.p}}}{{{coeff.q}}}")
        return sign + " ".join(parts)

    def _print_Add(self, expr, order=None):
        # a - (bᵀ c + dᵀ e): SymPy's LaTeX takes a negated term's minus out and prints the
        # 1 x 1 sum left as an atom, a - bᵀ c + dᵀ e; a stand-in keeps its brackets
        terms = self._as_ordered_terms(expr, order=order)
        if any(isinstance(-t, mf.AsScalar) and isinstance((-t).arg, sp.MatAdd)
               for t in terms[1:]):
            out = self._print(terms[0])
            for term in terms[1:]:
                sign = " - " if term.could_extract_minus_sign() else " + "
                term = -term if sign == " - " else term
                text = self._print(term)
                if isinstance(term, mf.AsScalar) and isinstance(term.arg, sp.MatAdd) \
                        or self._needs_add_brackets(term):
                    text = self._parens(text)
                out += sign + text
        else:
            out = super()._print_Add(expr, order)
        # a term that prints with its own sign (vᵀ w of a negated product): a - b, not a + -b
        return re.sub(r"(?<=\s)([+-]) -(?=\S)", lambda m: "- " if m.group(1) == "+" else "+ ",
                      out)

    def _print_Transpose(self, expr):
        inverse = self._inverse_transpose(expr)
        if inverse is not None:
            return inverse
        inner = self._print(expr.arg)
        if is_tangent_name(inner) or isinstance(expr.arg, Stack):
            return inner + TRANSPOSE[self.notation.transpose]
        if not isinstance(expr.arg, MatrixSymbol) or "\\frac" in inner or (
                "^" in inner and any(a in inner for a in _ACCENTS)):
            # TeX takes a braced group that is one accent as the accent itself, scripts
            # included: {\hat{X}^{(1)}}^\top is a double superscript, brackets are not
            inner = f"\\left({inner}\\right)"
        elif "^" in inner or "_" in inner:
            inner = f"{{{inner}}}"
        return inner + TRANSPOSE[self.notation.transpose]

    def _hadamard_join(self, factors):
        return " \\odot ".join(factors)

    def _print_HadamardProduct(self, expr):
        return " \\odot ".join(self._hadamard_factor(a) for a in expr.args)

    def _print_HadamardPower(self, expr):
        base = self._power_base(expr.base)
        if "^" in base and not base.endswith("\\right)"):  # W^{(1)}: no double superscript
            base = self._parens(base)
        return f"{base}^{{\\odot {self._print(expr.exp)}}}"

    def _print_Derivative(self, expr):
        f = expr.expr
        if isinstance(f, sp.Function) and len(f.args) == 1 and set(expr.variables) == {f.args[0]}:
            primes = _primes(len(expr.variables), latex=True)
            return _applied(f"{self._function_name(f.func.__name__)}{primes}",
                            self._arg(f.args[0]))
        return super()._print_Derivative(expr)

    def _print_Function(self, expr, exp=None):
        name = self._function_name(type(expr).__name__)
        if exp is not None:
            name = f"{name}^{{{exp}}}"
        return _applied(name, ", ".join(self._arg(a) for a in expr.args))

    def _print_Pow(self, expr):
        entrywise = self._entrywise_power(expr)
        if entrywise is None and isinstance(expr.base, LogDet) and expr.exp != -1:
            return f"{self._parens(self._print(expr.base))}^{{{self._print(expr.exp)}}}"
        return entrywise if entrywise is not None else super()._print_Pow(expr)

    def _print_Abs(self, expr, exp=None):
        # abs(W), as the model writes it: SymPy's |W| of a matrix reads as its determinant
        return self._print_Function(expr, exp)

    def _print_log(self, expr, exp=None):
        return self._print_Function(expr, exp)

    def _print_exp(self, expr, exp=None):
        # \exp(W), not e^{W}: on a matrix, e^{W} reads as the matrix exponential
        return self._print_Function(expr, exp)

    def _print_OneMatrix(self, expr):
        one, top = "\\mathbf{1}", TRANSPOSE[self.notation.transpose]
        if expr.rows != 1 and expr.cols != 1:  # a matrix of ones: the product 1 1^T
            return f"{one} {one}{top}"
        size = self._ones_size(expr)
        one = one if size is None else f"{one}_{{{size}}}"
        return one + top if expr.rows == 1 and expr.cols != 1 else one

    def _print_Identity(self, expr):
        if self._sized_identity() or "\\mathbf{I}" in self.names.values():  # add the size
            return f"\\mathbf{{I}}_{{{self._print(expr.rows)}}}"
        return "\\mathbf{I}"

    def _print_NamedCall(self, expr):
        return _applied(expr.call_latex, self._print(expr.arg))

    def _print_Norm(self, expr):
        sub = "_F" if all(s != 1 for s in expr.arg.shape) else ""
        return f"\\left\\|{self._print(expr.arg)}\\right\\|{sub}"

    def _print_Trace(self, expr):
        return _applied("\\operatorname{tr}", self._print(expr.arg))

    def _print_Apply(self, expr):
        args = ", ".join(self._print(a) for a in expr.call_args)
        return _applied(self._function_name(expr.name), args)

    def _partial(self, of, wrt):
        return f"\\frac{{\\partial {of}}}{{\\partial {wrt}}}"

    def _nth_partial(self, k, name, args):
        return _applied(f"\\partial_{{{k}}} {name}", args)

    def _second_partial(self, of, slot, along, same, columns):
        top = TRANSPOSE[self.notation.transpose] if columns else ""
        if same and not columns:
            below = f"\\partial {{{slot}}}^{{2}}"
        else:
            below = f"\\partial {slot} \\, \\partial {{{along}}}{top}"
        return f"\\frac{{\\partial^{{2}} {of}}}{{{below}}}"

    def _second_partial_by_slots(self, k, m, name, args):
        return _applied(f"\\partial_{{{k}}} \\partial_{{{m}}} {name}", args)

    def _applied(self, operator, operand):
        return f"{operator}\\left[{operand}\\right]"

    def _plain(self, name):
        return default_latex(name)


def _atomic(expr):
    """Whether `expr` prints as one atom: a name, a number, a call, a norm, or a power of one."""
    if isinstance(expr, (sp.Symbol, MatrixSymbol)):
        return not expr.name.startswith("∂")
    if expr.is_Number:
        return expr.is_Integer and expr >= 0
    if isinstance(expr, sp.Pow):  # t⁴, (a - b)²: the base is bracketed where needed
        return bool(expr.exp.is_Integer and expr.exp > 1)
    if isinstance(expr, mf.AsScalar):
        return isinstance(expr.arg, MatrixSymbol)
    return isinstance(expr, (sp.Function, mf.SumAll, mf.Norm, mf.Apply, sp.Trace, mf.NamedCall))


def _primes(n, latex):
    """The marks of an n-th derivative: primes up to three, then a bracketed order."""
    if n <= 3:
        return "'" * n
    return f"^{{({n})}}" if latex else f"⁽{str(n).translate(_SUPERSCRIPT)}⁾"
