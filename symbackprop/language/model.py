"""Models: parsed statements checked for meaning, with a shape for every value.

:func:`symbackprop.parse` and :func:`symbackprop.load` are the entry points
(:mod:`symbackprop.language.loading`).  They check every name,
every definition and every shape, and give a :class:`Model` whose assignments
are typed expression trees of registry operators (:mod:`symbackprop.primitives.operators`).
All errors are :class:`~symbackprop.errors.ModelError` with a line and column.

Names live in three namespaces: dimensions (``dim``), values (declarations and
assignments) and functions (built-in and ``func``).  A dimension may share its
name with a value, as ``h`` does in the textbook model.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

import sympy as sp

from ..errors import ModelError
from ..primitives.blocks import slice_bounds_error
from ..primitives.expressions import ENTRY
from ..primitives.operators import (
    BINARY,
    FUNCTIONS,
    REGISTRY,
    abstract_operator,
    elementwise_operator,
)
from ..primitives.piecewise import OVERLOADS
from ..primitives.shapes import SCALAR, Shape, ShapeError, matrix, vector
from . import syntax as ast
from .spelling import default_latex, unicode_name
from .dim_arithmetic import is_compound, size_polynomial
from .exponents import EXPONENT, exponent_symbol, folded_exponent
from .options import call_options, takes

__all__ = ["Model", "Variable", "Function", "Assignment", "Node", "Ref", "Literal", "walk"]


@dataclass(frozen=True)
class Variable:
    """A named value: a box in the computational graph.

    Attributes
    ----------
    name : str
    role : {"input", "param", "const", "intermediate", "objective"}
    shape : Shape
    latex : str or None
        The LaTeX name the model gave with ``as "..."``, if any.
    line, col : int
    domain : {None, "positive", "unit", "onehot", "simplex", "symmetric", "spd"}
        The values a declared variable takes, as its declaration states them:
        any real number (None), entries > 0, entries in the open interval
        (0, 1), one-hot or probability rows (of a vector, or of each row of a
        matrix), a symmetric or a symmetric positive definite matrix.
        :func:`symbackprop.check` draws data from it, the symbols of a scalar
        carry it as a SymPy assumption, and derivative rules may use it (the
        rows of a one-hot or simplex target of cross_entropy sum to 1).
    """

    name: str
    role: str
    shape: Shape
    latex: str | None
    line: int
    col: int
    domain: str | None = None

    @property
    def declared(self):
        """Whether the value is given (input, param, const) rather than computed."""
        return self.role in ast.DECLARED_ROLES


@dataclass(frozen=True)
class Function:
    """An abstract function declared with ``func``: elementwise (no params) or scalar-valued."""

    name: str
    params: tuple | None
    latex: str | None
    line: int
    col: int

    @property
    def elementwise(self):
        return self.params is None


@dataclass(frozen=True)
class Ref:
    """A use of a variable inside an expression; of a family's member, with its index."""

    name: str
    shape: Shape
    line: int
    col: int
    index: tuple = ()     # of sympy.Expr: ``h[t-1]`` has (t - 1,)
    #: The declared domain of data (an input's or a const's), which local rules may use;
    #: None for a param, which moves (training steps, the directions of H v).
    domain: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Literal:
    """A numeric constant, kept exact: a number, or a dim's symbol (a dim used as a value)."""

    value: sp.Expr
    line: int
    col: int
    shape: Shape = SCALAR


@dataclass(frozen=True)
class Node:
    """An operator application: a circle in the computational graph."""

    op: object            # an Operator
    args: tuple           # of Node | Ref | Literal
    shape: Shape
    line: int
    col: int
    param: object = None  # the exponent of '^'


@dataclass(frozen=True)
class Assignment:
    """``target = tree``: defines one variable."""

    target: str
    tree: object          # Node | Ref | Literal
    line: int
    col: int


@dataclass(frozen=True)
class Model:
    """A checked model.

    Attributes
    ----------
    source, filename : str
    dims : dict of str to sympy.Symbol
        Dimension names to positive integer symbols, in declaration order.
    variables : dict of str to Variable
        In definition order, which is a topological order.
    functions : dict of str to Function
        The abstract functions declared with ``func``.
    assignments : tuple of Assignment
    objective : str
    bindings : dict of str to str
        Abstract functions replaced by built-ins (see :meth:`bind`).
    """

    source: str
    filename: str
    dims: dict
    variables: dict
    functions: dict
    assignments: tuple
    objective: str
    bindings: dict = field(default_factory=dict)
    #: The statements checked, when they are not the source's own (a model with loops
    #: written out): what :meth:`bind` checks again.
    statements: tuple = field(default=None, repr=False, compare=False)
    #: What the slices need at every size: each at least 1 (a start, a length, what is left).
    bounds: tuple = field(default=(), repr=False, compare=False)

    def bind(self, bindings):
        """This model with abstract functions replaced by built-ins.

        Parameters
        ----------
        bindings : dict of str to str
            For instance ``{"phi": "tanh", "ell": "squared_error"}``.

        Examples
        --------
        >>> from symbackprop import parse
        >>> m = parse("dim n\\nparam w: vector(n)\\nfunc phi\\nJ = sum(phi(w))\\nobjective J")
        >>> m.bind({"phi": "tanh"}).assignments[0].tree.args[0].op.name
        'tanh'
        """
        merged = {**self.bindings, **dict(bindings or {})}
        return _checked_model(self.source, self.filename, merged, self.statements)

    @property
    def unbound(self):
        """Abstract functions that are called and not bound, in declaration order."""
        called = set()
        for a in self.assignments:
            for node in walk(a.tree):
                if isinstance(node, Node) and node.op.name in self.functions:
                    called.add(node.op.name)
        return [name for name in self.functions if name in called]


def walk(tree):
    """All nodes of an expression tree, operands before the operator applied to them.

    The order is the one in which the tree is computed: a post-order, each
    operand's subtree in full before the next operand, the operator last.  It
    is built with an explicit stack, so a deep tree does not reach Python's
    recursion limit.

    Parameters
    ----------
    tree : Node, Ref or Literal
        An assignment's tree (:attr:`Assignment.tree`).

    Returns
    -------
    list of Node, Ref and Literal
        Every node once per occurrence, the root last.

    Examples
    --------
    >>> from symbackprop import parse
    >>> m = parse("dim n\\nparam w: vector(n)\\nJ = sum(tanh(w)) + 2\\nobjective J")
    >>> tree = m.assignments[0].tree  # sum(tanh(w)) + 2
    >>> [type(n).__name__ for n in walk(tree)]
    ['Ref', 'Node', 'Node', 'Literal', 'Node']
    >>> [n.op.name for n in walk(tree) if isinstance(n, Node)]
    ['tanh', 'sum', 'add']
    """
    out, stack = [], [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded or not isinstance(node, Node):
            out.append(node)
            continue
        stack.append((node, True))
        stack.extend((arg, False) for arg in reversed(node.args))
    return out


def _checked_model(text, filename, bindings, statements=None):
    try:
        return _Checker(text, filename, bindings, statements).model()
    except ModelError as err:
        raise err.located(filename, text if isinstance(text, str) else "") from None


def _suggest(name, candidates):
    # cutoff 0.5, not difflib's 0.6: 'W3' for 'W1' is the typo to catch.
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Checker:
    def __init__(self, text, filename, bindings, statements=None):
        self.text = text
        self.statements = statements
        self.filename = filename
        self.bindings = bindings
        self.dims = {}
        self.dim_lines = {}
        self.variables = {}
        self.functions = {}
        self.operators = {}
        self.assignments = []
        self.objective = None
        self.objective_failed = False
        self.poisoned = set()
        self.bounds = []
        self.spelled = {}  # each name's text and LaTeX spellings: (name, line) of the first

    def model(self):
        statements = self.statements
        if statements is None:
            statements = ast.parse_statements(self.text)
        self.assigned_later = {}
        for s in statements:
            if isinstance(s, ast.Assign):
                self.assigned_later.setdefault(s.target, s.line)
        declared = {}
        for s in statements:
            if isinstance(s, ast.Func):
                declared.setdefault(s.name, s)
        self._check_bindings(declared)
        errors = []
        for s in statements:
            try:
                getattr(self, "_" + type(s).__name__.lower())(s)
            except _Skip:
                self._poison(s)
            except ModelError as err:
                errors.append(err)
                self._poison(s)
        if self.objective is None and not self.objective_failed:
            last = self.text.rstrip("\n").count("\n") + 1
            errors.append(ModelError("the model has no objective: add a line 'objective NAME' "
                                     "naming the scalar to differentiate", last, 1))
        if errors:
            raise ModelError.collect(errors)
        variables = dict(self.variables)
        name = self.objective
        variables[name] = _replace_role(variables[name], "objective")
        return Model(self.text, self.filename, dict(self.dims), variables, dict(self.functions),
                     tuple(self.assignments), name, dict(self.bindings),
                     None if self.statements is None else tuple(self.statements),
                     tuple(sp.expand(b) for b in self.bounds))

    # statements

    def _poison(self, s):
        """After an error in `s`, what it defines is unknown: later uses of it are skipped
        quietly, so that one mistake is reported once."""
        if isinstance(s, ast.Dim):
            self.poisoned.update(name for name, _, _ in s.names if name not in self.dims)
        elif isinstance(s, (ast.Decl, ast.Func)):
            self.poisoned.add(s.name)
        elif isinstance(s, ast.Assign):
            self.poisoned.add(s.target)
        elif isinstance(s, ast.Objective):
            self.objective_failed = True

    def _dim(self, s):
        for name, line, col in s.names:
            if name in self.dims:
                raise ModelError(f"dimension '{name}' is already declared at line "
                                 f"{self.dim_lines[name]}", line, col)
            self.dims[name] = sp.Symbol(name, integer=True, positive=True)
            self.dim_lines[name] = line

    def _size(self, size):
        value, line, col = size
        if is_compound(value):
            return size_polynomial(value, lambda leaf, at, to: self._size((leaf, at, to)))
        if isinstance(value, int):
            return sp.Integer(value)
        if value in self.poisoned:
            raise _Skip
        if value not in self.dims:
            declared = (f"; the dims are {', '.join(self.dims)}" if self.dims else "")
            raise ModelError(f"unknown dimension '{value}'{_suggest(value, self.dims)}"
                             f"{declared}; declare it on a 'dim' line", line, col)
        return self.dims[value]

    def _shape(self, t):
        sizes = [self._size(s) for s in t.sizes]
        return {"scalar": lambda: SCALAR, "vector": lambda: vector(*sizes),
                "matrix": lambda: matrix(*sizes)}[t.kind]()

    def _new_name(self, name, line, col):
        if name in self.variables:
            raise ModelError(f"'{name}' is already defined at line {self.variables[name].line}; "
                             "every variable is defined exactly once", line, col)
        if name in self.functions or name in FUNCTIONS:
            raise ModelError(f"'{name}' is a function; choose another name for the variable",
                             line, col)
        shown = unicode_name(name)
        spellings = (("text", shown), ("latex", default_latex(name)))
        for spelling in spellings:  # Wq and W_q, eps and epsilon
            if spelling in self.spelled:
                other, at = self.spelled[spelling]
                raise ModelError(f"'{name}' and '{other}' (line {at}) would both print as "
                                 f"{shown}: rename one", line, col)
        self.spelled.update(dict.fromkeys(spellings, (name, line)))

    def _scalar_name(self, name, shape, line, col):
        # a scalar prints plainly, as a dim does: n/n would be unreadable (a vector or
        # matrix may share a dim's name, h and dim h: it prints in bold)
        if shape.is_scalar and name in self.dims:
            raise ModelError(f"the scalar '{name}' has the name of a dimension, and formulas "
                             f"would print both as {name}: rename one", line, col)

    def _decl(self, s):
        self._new_name(s.name, s.line, s.col)
        shape = self._shape(s.type)
        self._scalar_name(s.name, shape, s.line, s.col)
        _check_domain(s, shape)
        self.variables[s.name] = Variable(s.name, s.role, shape, s.latex, s.line, s.col,
                                          s.domain)

    def _func(self, s):
        if s.name in FUNCTIONS:
            raise ModelError(f"'{s.name}' is a built-in function; an abstract function needs "
                             "another name", s.line, s.col)
        if s.name in self.functions:
            raise ModelError(f"function '{s.name}' is already declared at line "
                             f"{self.functions[s.name].line}", s.line, s.col)
        if s.name in self.variables:
            raise ModelError(f"'{s.name}' is already a variable (line "
                             f"{self.variables[s.name].line})", s.line, s.col)
        if s.params is not None and len(set(s.params)) != len(s.params):
            raise ModelError(f"function '{s.name}' repeats a parameter name", s.line, s.col)
        self.functions[s.name] = Function(s.name, s.params, s.latex, s.line, s.col)
        if s.params is None:
            op = elementwise_operator(s.name, sp.Function(s.name)(ENTRY))
        else:
            op = abstract_operator(s.name, len(s.params))
        self.operators[s.name] = op

    def _assign(self, s):
        self._new_name(s.target, s.line, s.col)
        tree = self._expr(s.expr)
        if not isinstance(tree, Node):  # `a = b` or `a = 2`: every variable has an operator
            tree = Node(REGISTRY["copy"], (tree,), tree.shape, tree.line, tree.col)
        self._scalar_name(s.target, tree.shape, s.line, s.col)
        self.assignments.append(Assignment(s.target, tree, s.line, s.col))
        self.variables[s.target] = Variable(s.target, "intermediate", tree.shape, s.latex,
                                            s.line, s.col)

    def _objective(self, s):
        if s.name in self.poisoned:
            raise _Skip
        if self.objective is not None:
            raise ModelError(f"a second objective: the model already minimizes "
                             f"'{self.objective}'; there must be exactly one", s.line, s.col)
        if s.name not in self.variables:
            raise ModelError(f"the objective '{s.name}' is not defined"
                             f"{_suggest(s.name, self.variables)}", s.line, s.col)
        shape = self.variables[s.name].shape
        if not shape.is_scalar:
            raise ModelError(f"the objective must be a scalar; '{s.name}' is a {shape}",
                             s.line, s.col)
        if self.variables[s.name].declared:
            raise ModelError(f"the objective '{s.name}' must be computed by an assignment, "
                             f"not declared as {self.variables[s.name].role}", s.line, s.col)
        self.objective = s.name

    def _check_bindings(self, declared):
        """Check `bindings` against the ``func`` statements, before any call is checked."""
        for name, target in self.bindings.items():
            if name not in declared:
                raise ModelError(f"cannot bind '{name}': the model declares no abstract "
                                 f"function of that name{_suggest(name, declared)}")
            if target not in REGISTRY or target not in FUNCTIONS:
                raise ModelError(f"cannot bind '{name}' to '{target}': no such built-in"
                                 f"{_suggest(target, FUNCTIONS)}")
            func, op = declared[name], REGISTRY[target]
            elementwise = func.params is None
            if elementwise and not op.elementwise:
                raise ModelError(f"cannot bind '{name}' to '{target}': '{name}' is elementwise "
                                 f"and '{target}' is not", func.line, func.col)
            if not elementwise and (op.elementwise or op.arity != len(func.params)):
                raise ModelError(f"cannot bind '{name}' to '{target}': '{name}' takes "
                                 f"{len(func.params)} arguments and '{target}' takes {op.arity}"
                                 + (" and applies entrywise" if op.elementwise else ""),
                                 func.line, func.col)

    # expressions

    def _expr(self, root):
        """Type an expression, operands first, with an explicit stack (no recursion).

        A long flat sum is a deep left-leaning tree; recursion would exhaust
        Python's stack on it.
        """
        typed = {}
        stack = [(root, None)]
        while stack:
            e, operands = stack.pop()
            if operands is None:
                operands = self._operands(e)
                stack.append((e, operands))
                stack.extend((o, None) for o in reversed(operands))
            else:
                typed[id(e)] = self._type(e, [typed[id(o)] for o in operands])
        return typed[id(root)]

    def _operands(self, e):
        """The sub-expressions to type before `e`; problems with `e` itself come first."""
        if isinstance(e, ast.Call):
            op = self._function(e)
            if op.name == "eye":
                return []  # its argument is a dim, not a value
            return list(e.args[:None if op.many else op.arity])  # after them, options
        if isinstance(e, ast.Binary):
            if e.op == "^":
                self._exponent(e.right)
                return [e.left]
            return [e.left, e.right]
        if isinstance(e, (ast.Unary, ast.Transpose)) or getattr(e, "operand", None):
            return [e.operand]  # a slice's, of a value in parentheses
        return []

    def _type(self, e, args):
        if isinstance(e, ast.Num):
            return Literal(sp.Rational(e.value.numerator, e.value.denominator), e.line, e.col)
        if isinstance(e, ast.Name):
            return self._name(e)
        if isinstance(e, ast.Call) and e.func == "eye" and self._function(e).name == "eye":
            return self._apply(REGISTRY["eye"], [], e.line, e.col, self._eye_size(e))
        if isinstance(e, ast.Slice):
            return self._slice(e, args)
        if isinstance(e, ast.Call):
            op = self._function(e)
            node = self._apply(op, args, e.line, e.col, call_options(e, op))
            for i in node.op.constants:
                self._constant(e.args[i], node.args[i], e.func)
            func = self.functions.get(e.func)
            if e.func in self.bindings and func is not None and func.params is not None \
                    and not node.shape.is_scalar:
                # `func ell(o, y)` promises a scalar: a binding must keep the promise
                raise ModelError(f"'{e.func}' is bound to '{self.bindings[e.func]}', which gives "
                                 f"a {node.shape} here; a function declared with arguments is "
                                 "scalar-valued: bind it to a loss", e.line, e.col)
            return node
        if isinstance(e, ast.Binary):
            if e.op == "^":
                exponent = self._exponent(e.right)
                if exponent.is_Symbol:
                    self._positive_base(args[0], exponent, e)
                else:
                    _check_constant_power(args[0], exponent, e)
                return self._apply(REGISTRY["pow"], args, e.line, e.col, exponent)
            return self._apply(REGISTRY[BINARY[e.op]], args, e.line, e.col)
        if isinstance(e, ast.Unary):
            (operand,) = args
            if isinstance(operand, Literal):
                return Literal(-operand.value, e.line, e.col)
            return self._apply(REGISTRY["neg"], args, e.line, e.col)
        return self._apply(REGISTRY["transpose"], args, e.line, e.col)

    def _name(self, e):
        if e.id in self.poisoned:
            raise _Skip
        if e.id in self.variables:
            v = self.variables[e.id]
            return Ref(e.id, v.shape, e.line, e.col,
                       domain=v.domain if v.role in ("input", "const") else None)
        if e.id in self.dims:  # a dim as a value: a positive integer constant, sum(x) / n
            return Literal(self.dims[e.id], e.line, e.col)
        if e.id in self.assigned_later:
            raise ModelError(f"'{e.id}' is used before its definition at line "
                             f"{self.assigned_later[e.id]}", e.line, e.col)
        if e.id in self.functions or e.id in FUNCTIONS:
            raise ModelError(f"'{e.id}' is a function; call it with parentheses", e.line, e.col)
        hint = _suggest(e.id, self.variables)
        raise ModelError(f"unknown name '{e.id}'{hint}", e.line, e.col)

    def _constant(self, e, tree, func):
        """Refuse an operand that must be a constant (leaky_relu's slope) and is not."""
        moving = [t.name for t in walk(tree) if isinstance(t, Ref)
                  and self.variables[t.name].role != "const"]
        if moving:
            role = self.variables[moving[0]].role
            raise ModelError(f"the second argument of {func} must be a constant, made of consts "
                             f"and numbers; '{moving[0]}' is {'an' if role[0] in 'aeiou' else 'a'}"
                             f" {role}", e.line, e.col)

    def _slice(self, e, args):
        """``v[A..B]``, ``W[A..B, :]``, ``A[:, A..B]``, ``W[A..B, C..D]``, ``(W @ x)[A..B]``: a
        block whose bounds are sizes, one slice for each axis cut."""
        node = args[0] if args else self._name(ast.Name(e.name, e.line, e.col))
        what, name = (f"'{e.name}'", e.name) if args == [] else ("the value", "(EXPR)")
        shape = node.shape
        wanted = {"vector": 1, "row": 1, "matrix": 2}.get(shape.kind)
        if wanted != len(e.ranges):
            raise ModelError(f"{what} is a {shape}: slice it as {name}[A..B]" if wanted == 1
                             else f"{what} is a {shape}: it has no slices" if wanted is None
                             else f"{what} is a {shape}: slice it as {name}[A..B, :] or "
                             f"{name}[:, A..B] (or {name}[A..B, C..D])", e.line, e.col)
        for axis, r in zip([1] if shape.kind == "row" else [0, 1], e.ranges):
            if r is None:
                continue
            lo, hi = (size_polynomial(b, lambda leaf, at, to: self._size((leaf, at, to)),
                                      False) for b in (r.lo, r.hi))
            problem = slice_bounds_error(node.shape, lo, hi, axis)
            if problem is not None:
                raise ModelError(f"{problem} of {what}, a {node.shape}", r.line, r.col)
            size = node.shape.rows if axis == 0 else node.shape.cols
            self.bounds.extend([lo, hi - lo + 1, size - hi + 1])
            node = self._apply(REGISTRY["slice"], [node], e.line, e.col, (lo, hi, axis))
        return node

    def _apply(self, op, args, line, col, param=None):
        try:
            shape = op.shape_rule(*(a.shape for a in args), param=param)
        except ShapeError as err:
            raise ModelError(str(err), line, col) from None
        return Node(op, tuple(args), shape, line, col, param)

    def _eye_size(self, e):
        """The dim symbol of ``eye(n)``."""
        (arg,) = e.args
        if not isinstance(arg, ast.Name) or arg.id not in self.dims:
            dims = f"; the dims are {', '.join(self.dims)}" if self.dims else ""
            raise ModelError(f"eye takes the name of a dimension, eye(n){dims}",
                             getattr(arg, "line", e.line), getattr(arg, "col", e.col))
        return self.dims[arg.id]

    def _exponent(self, e):
        """The exponent of '^': a rational folded from numbers, or a const scalar's symbol."""
        value = folded_exponent(e)
        if value is not None:
            return value
        if isinstance(e, ast.Name) and e.id in self.poisoned:
            raise _Skip
        v = self.variables.get(e.id) if isinstance(e, ast.Name) else None
        if isinstance(e, ast.Name) and e.id == "T" and v is None:
            raise ModelError("a transpose is written w.T, not w^T", e.line, e.col)
        if v is None or v.role != "const" or not v.shape.is_scalar:
            article = "an" if v is not None and v.role[0] in "aeiou" else "a"
            hint = (f"; '{e.id}' is {article} {v.role} {v.shape}: declare it 'const {e.id}: "
                    "scalar'" if v is not None else "")
            raise ModelError(f"{EXPONENT}{hint}", e.line, e.col)
        return exponent_symbol(v)

    def _positive_base(self, base, exponent, e):
        """A power to a const exponent is real only for a positive base: a declared one."""
        v = self.variables.get(base.name) if isinstance(base, Ref) and not base.index else None
        if v is None or v.domain not in ("positive", "unit"):
            what = f"'{base.name}'" if isinstance(base, Ref) else "its base"
            raise ModelError(f"a power to the const '{exponent}' is real only for positive "
                             f"numbers: {what} must be a variable declared positive (input x: "
                             "vector(n) positive)", e.line, e.col)

    def _function(self, e):
        """The operator a call names, with its arity checked."""
        name = e.func
        if name in self.poisoned:
            raise _Skip
        if name in self.bindings and name in self.operators:
            op = REGISTRY[self.bindings[name]]
        elif name in self.operators:
            op = self.operators[name]
        elif name in FUNCTIONS:
            op = REGISTRY[OVERLOADS.get((name, len(e.args)), name)]  # max(A) is max_all
        else:
            if name in self.variables:
                raise ModelError(f"'{name}' is a variable, not a function", e.line, e.col)
            known = list(FUNCTIONS) + list(self.functions)
            raise ModelError(f"unknown function '{name}'{_suggest(name, known)}", e.line, e.col)
        if not takes(op, len(e.args)) and not (op.name == "eye" and len(e.args) == 1):
            counts = sorted({op.arity, op.arity + len(op.options)}
                            | {k for n, k in OVERLOADS if n == name})
            told = f"{op.arity} or more" if op.many else " or ".join(map(str, counts))
            plural = "s" if counts != [1] else ""
            raise ModelError(f"{name} takes {told} argument{plural}, not {len(e.args)}"
                             + (f": {op.written}" if op.many else ""), e.line, e.col)
        return op


#: The largest power of two a constant may reach, as float64's (2 ** 1024 overflows): a
#: constant power beyond it (``10 ^ 1e300``) would be computed exactly, without end.
MAX_CONSTANT_BITS = 1024


def _bits(tree):
    """An upper bound on log2 of both |v| and 1/|v| for the value v of the constant `tree`,
    or None when it is not a constant built by + - * / ^ from numbers."""
    if isinstance(tree, Literal):
        if not tree.value.is_Rational:  # a dim: its size is not known here
            return None
        p, q = abs(tree.value.p), tree.value.q
        return max(math.log2(p) if p else 0.0, math.log2(q))
    if not isinstance(tree, Node) or tree.op.name not in ("add", "sub", "mul", "div", "neg",
                                                          "pow"):
        return None
    sizes = [_bits(a) for a in tree.args]
    if None in sizes:
        return None
    if tree.op.name == "pow":
        if not tree.param.is_Rational:
            return None
        return sizes[0] * float(abs(tree.param))
    # a sum's denominator divides the product of its terms' (1/|v| is bounded too)
    return sum(sizes) + (1.0 if tree.op.name in ("add", "sub") else 0.0)


def _check_constant_power(base, exponent, e):
    """Refuse a constant power beyond float64, before it is computed exactly."""
    size = _bits(base)
    if size is not None and size * float(abs(exponent)) >= MAX_CONSTANT_BITS:
        raise ModelError("the constant power is beyond float64 (2^1024 and more, or its "
                         "inverse): write a smaller constant", e.line, e.col)


class _Skip(Exception):
    """A statement uses something whose definition already failed: nothing new to report."""


#: The domains of square matrices, and of vectors or matrices whose lines are distributions.
SQUARE_DOMAINS = ("symmetric", "spd")
ROW_DOMAINS = ("onehot", "simplex")


def _check_domain(s, shape):
    """A domain that the declared shape cannot have is an error at the declaration."""
    if s.domain in SQUARE_DOMAINS and not (shape.kind == "matrix" and shape.rows == shape.cols):
        raise ModelError(f"'{s.domain}' is a domain of square matrices, and '{s.name}' is a "
                         f"{shape}", s.line, s.col)
    if s.domain in ROW_DOMAINS and shape.is_scalar:
        raise ModelError(f"'{s.domain}' is a domain of vectors and matrices (each row), and "
                         f"'{s.name}' is a scalar", s.line, s.col)


def _replace_role(v, role):
    return Variable(v.name, role, v.shape, v.latex, v.line, v.col, v.domain)
