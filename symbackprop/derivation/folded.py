"""The folded graph of a model with loops: each loop's body once, inside its plate.

A graphical-model figure does not draw ``h_1, h_2, ..., h_T``: it draws one
box ``h_t`` inside a rectangle, the plate, labelled ``t = 1, ..., T``, and an
arrow from ``h_t`` back into the step that reads ``h_{t-1}``.
:func:`folded_graph` builds that graph of a
:class:`~symbackprop.language.looped.LoopModel` as data, a
:class:`networkx.DiGraph` like :func:`~symbackprop.derivation.graph.build_graph`
builds for a model without loops, and the printers draw it.

What is folded into what:

* a loop is a plate; a sum over an index (``sum(ell(o[t], y[t]) for t in 1..T)``)
  is one too, around its body, and the sum's circle sits outside it.  Plates
  over the same range, within the same plate, are one plate: the loss of every
  step is drawn next to the step.
* a family is one box in the plate it is defined (or declared) over, its label
  the member at the plate's index (``h_t``, ``W^{(l)}``); a member defined
  outside loops (``h[0] = h0``) is a box of its own, outside.
* a read of a member is an arrow from the box that computes it; its data say
  which iterations it joins: the previous one (a recurrence, ``t-1 -> t``),
  the first (``h_0`` at ``t = 1``) or one member read outside (``h_L``).

Node keys: a single value's key is its name and a family's box its family's
name, as in the graph of a model without loops; a member outside loops is
``"h[0]"``; an operator is ``"<target>#<k>"``, or ``"<target>[<index>]#<k>"``
for an assignment to a member (``"h[t]#2"``).  Nodes are inserted in source
order, so the graph iterates the same way on every run.

Node attributes: those of :func:`~symbackprop.derivation.graph.build_graph`
(``kind``, ``role``, ``op``, ``shape``, ``latex``, ``line``, ``col``,
``literals``, ``param``), with ``kind`` also ``"family"`` (a family's box) or
``"member"`` (a member outside loops), and:

``plate`` : str or None
    The key of the innermost plate the node is drawn in.
``family`` : str
    A box's or member's family.
``index`` : sympy.Expr
    The member a box or member node stands for: the plate's index (``t``,
    ``l``), or a number (``0``).
``over`` : str
    A sum's plate (on its circle).

Edge attributes: ``positions`` as in the graph without loops, and

``kind`` : {"value", "recurrence", "offset", "boundary"}
    A plain read; a read of what the same plate computed in an earlier
    iteration (the edge that makes the graph cyclic); a read of a declared
    family at an offset; a read that joins one iteration or one member only.
``reads`` : tuple of dict
    Each read of a member along the edge that is not a plain one: ``kind``; for a
    recurrence or offset ``frm`` and ``to``, the iteration that computed the member
    and the one that reads it (``t - 1``, ``t``); for a boundary ``at``,
    ``(var, value)``: the iteration (or the member) joined (``(t, 1)``, ``(l, L)``).

The graph's attribute ``plates`` maps each plate's key to a dict with ``var``,
``lo``, ``hi`` (SymPy) and ``parent`` (the key of the plate it is inside, or
None), inner plates after the plates around them.
"""

from __future__ import annotations

import itertools

import networkx as nx
import sympy as sp

from ..language.model import Node, Ref, walk
from .graph import _operator_latex, variable_latex
from .recurrences import LARGE

__all__ = ["folded_graph", "plate_path"]


def plate_path(g, node):
    """The plates around `node`, outermost first.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = folded_graph(sbp.load("examples/loops/bptt.sbp"))
    >>> plate_path(g, "h"), plate_path(g, "W_hh")
    (('t=1..T',), ())
    """
    key, out = g.nodes[node].get("plate"), []
    while key is not None:
        out.append(key)
        key = g.graph["plates"][key]["parent"]
    return tuple(reversed(out))


def folded_graph(model):
    """The folded computational graph of a model with loops.

    Parameters
    ----------
    model : LoopModel

    Returns
    -------
    networkx.DiGraph
        With the plates in ``graph["plates"]``; see the module's description.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = folded_graph(sbp.load("examples/loops/bptt.sbp"))
    >>> g.graph["plates"]["t=1..T"]
    {'var': t, 'lo': 1, 'hi': T, 'parent': None}
    >>> [n for n in g if g.nodes[n]["kind"] == "family"]
    ['x', 'y', 'h', 'o']
    >>> g.edges["h", "h[t]#2"]["kind"], g.edges["h", "h[t]#2"]["reads"]
    ('recurrence', ({'kind': 'recurrence', 'frm': t - 1, 'to': t},))
    >>> g.edges["h[0]", "h[t]#2"]["reads"]
    ({'kind': 'boundary', 'at': (t, 1)},)
    """
    return _Folding(model).graph()


class _Folding:
    """Builds the folded graph: plates, then nodes in source order, then the reads."""

    def __init__(self, model):
        self.model = model
        self.g = nx.DiGraph(plates={})
        self.defs = {}       # family -> list of definitions (node, index expr, lo, hi, plate)
        self.reads = []      # (ref, reader key, position, plate, renaming)
        self.large = {model.dims[n]: LARGE for n in model.lengths}

    def graph(self):
        declared = [*((v.line, v.col, v) for v in self.model.variables.values() if v.declared),
                    *((f.line, f.col, f) for f in self.model.families.values() if f.declared)]
        plates = [self._plates(a) for a in self.model.assignments]
        for _, _, v in sorted(declared, key=lambda t: t[:2]):
            if v.name in self.model.families:
                self._declared_family(v)
            else:
                self._value(v.name, self.model.variables[v.name])
        for a, (plate, renaming) in zip(self.model.assignments, plates):
            self._assignment(a, plate, renaming)
        for read in self.reads:
            self._read(*read)
        return self.g

    # plates

    def _plate(self, parent, var, lo, hi, renaming):
        """The plate over ``var = lo..hi`` inside `parent` (one plate per range)."""
        lo, hi = (sp.sympify(b, strict=True).xreplace(renaming) for b in (lo, hi))
        plates = self.g.graph["plates"]
        for key, p in plates.items():
            if p["parent"] == parent and p["lo"] == lo and p["hi"] == hi:
                return key, {**renaming, var: p["var"]}
        key = f"{var}={_text(lo)}..{_text(hi)}"
        key = key if parent is None else f"{parent}/{key}"
        plates[key] = {"var": var, "lo": lo, "hi": hi, "parent": parent}
        return key, {**renaming, var: var}

    def _plates(self, a):
        """The plate of an assignment's loops, and its renaming of loop variables."""
        plate, renaming = None, {}
        for r in a.loops:
            plate, renaming = self._plate(plate, r.var, r.lo, r.hi, renaming)
        return plate, renaming

    def _home(self, family):
        """The top-level plate over a declared family's range."""
        (lo, hi), = family.ranges
        return self._plate(None, family.index, lo, hi, {})

    # nodes

    def _value(self, name, v):
        self.g.add_node(name, kind="variable", role=v.role, shape=v.shape,
                        latex=variable_latex(v), line=v.line, col=v.col, plate=None)

    def _declared_family(self, f):
        plate, renaming = self._home(f)
        var = renaming[f.index]
        if f.extra:  # K[o, c]: in the plate over c inside the plate over o
            inner = [var]
            for r in f.extra:
                plate, renaming = self._plate(plate, r.var, r.lo, r.hi, renaming)
                inner.append(renaming[r.var])
            self._box(f.name, plate, sp.Tuple(*inner))
            (lo, hi), = f.ranges
            self.defs[f.name] = [(f.name, var, lo, hi, plate)]
            return
        self._box(f.name, plate, var)
        (lo, hi), = f.ranges
        self.defs[f.name] = [(f.name, var, lo, hi, plate)]

    def _box(self, name, plate, index, key=None, kind="family"):
        f = self.model.families[name]
        self.g.add_node(key or name, kind=kind, role=f.role, shape=f.shape_at(index),
                        latex=f.latex, family=name, index=index, line=f.line, col=f.col,
                        plate=plate)

    def _assignment(self, a, plate, renaming):
        head = a.target if not a.index else f"{a.target}[{_text(a.index[0])}]"
        keys, places, over = {}, {id(a.tree): (plate, renaming)}, {}
        nodes = [n for n in walk(a.tree) if isinstance(n, Node)]
        for node in reversed(nodes):  # operators after operands in walk: outside in here
            here, names = places[id(node)]
            if node.op.name.startswith("index_"):
                var, lo, hi = node.param
                inner = over[id(node)] = self._plate(here, var, lo, hi, names)
            else:
                inner = (here, names)
            for arg in node.args:
                places[id(arg)] = inner
        for k, node in enumerate(nodes, start=1):
            key = keys[id(node)] = f"{head}#{k}"
            here, names = places[id(node)]
            self.g.add_node(key, kind="operator", op=node.op.name, shape=node.shape,
                            latex=_operator_latex(node, self.model), line=node.line,
                            col=node.col, param=node.param, plate=here,
                            literals=tuple(arg.value for arg in node.args
                                           if not isinstance(arg, (Node, Ref))))
            if node.op.name.startswith("index_"):
                self.g.nodes[key]["over"] = over[id(node)][0]
            for position, arg in enumerate(node.args):
                if isinstance(arg, Ref):  # read where it stands: a sum's operand in its plate
                    self.reads.append((arg, key, position, *places[id(arg)]))
                elif isinstance(arg, Node):
                    self._edge(keys[id(arg)], key, position)
        self._edge(keys[id(a.tree)], self._target(a, head, plate, renaming), 0)

    def _target(self, a, head, plate, renaming):
        """Add the node an assignment computes, and return its key."""
        if not a.index:
            self._value(a.target, self.model.variables[a.target])
            return a.target
        index = sp.sympify(a.index[0], strict=True).xreplace(renaming)
        loops = [r for r in a.loops if renaming[r.var] in index.free_symbols]
        if not loops:  # a member outside loops: a box of its own
            self._box(a.target, plate, index, key=head, kind="member")
            self.defs.setdefault(a.target, []).append((head, index, index, index, plate))
            return head
        boxed = any(d[0] == a.target for d in self.defs.get(a.target, ()))
        key = head if boxed else a.target  # a second loop defining a family: a second box
        self._box(a.target, plate, index, key=key)
        r = loops[-1]
        var = renaming[r.var]
        lo, hi = (index.xreplace({var: sp.sympify(b, strict=True).xreplace(renaming)})
                  for b in (r.lo, r.hi))
        self.defs.setdefault(a.target, []).append((key, index, lo, hi, plate))
        return key

    def _edge(self, source, target, position, read=None):
        if self.g.has_edge(source, target):
            data = self.g.edges[source, target]
            data["positions"] += (position,)
        else:
            self.g.add_edge(source, target, positions=(position,), kind="value", reads=())
            data = self.g.edges[source, target]
        if read is not None and read not in data["reads"]:
            data["reads"] += (read,)
            data["kind"] = max((r["kind"] for r in data["reads"]), key=_KINDS.index)

    # reads

    def _read(self, ref, reader, position, plate, renaming):
        if not ref.index:
            self._edge(ref.name, reader, position)
            return
        e = sp.sympify(ref.index[0], strict=True).xreplace(renaming)
        chain = self._chain(plate)
        low, high = self._extent(e, chain)
        for key, index, lo, hi, home in self.defs[ref.name]:
            lo, hi = (int(sp.sympify(b, strict=True).xreplace(self.large)) for b in (lo, hi))
            if max(low, lo) > min(high, hi):
                continue  # no member this definition computes is read here
            read = self._kind(ref.name, e, index, home, chain)
            self._edge(key, reader, position, read if read["kind"] != "value" else None)

    def _chain(self, plate):
        """The plates around `plate` and it, outermost first."""
        out = []
        while plate is not None:
            out.append(plate)
            plate = self.g.graph["plates"][plate]["parent"]
        return out[::-1]

    def _extent(self, e, chain):
        """The least and greatest member an affine index reaches inside the plates of
        `chain`, the lengths taken large."""
        plates = self.g.graph["plates"]
        values = []
        for corner in itertools.product((0, 1), repeat=len(chain)):
            at = dict(self.large)
            for key, end in zip(chain, corner):
                p = plates[key]
                at[p["var"]] = sp.sympify(p["hi"] if end else p["lo"], strict=True).xreplace(at)
            values.append(int(sp.sympify(e, strict=True).xreplace(at)))
        return min(values), max(values)

    def _kind(self, family, e, index, home, chain):
        """What a read of ``family[e]``, inside the plates of `chain`, joins of the
        definition of the members ``index`` in the plate `home`."""
        if sp.simplify(e - index) == 0:
            return {"kind": "value"}
        plates = self.g.graph["plates"]
        variables = [plates[k]["var"] for k in chain]
        free = [var for var in variables if var in e.free_symbols]
        if home is None or plates[home]["var"] not in index.free_symbols:  # a member
            if not free:
                return {"kind": "value"}
            return {"kind": "boundary", "at": (free[-1], _solve(e, index, free[-1]))}
        var = plates[home]["var"]
        u = sp.Dummy("u")
        frm = _solve(index.xreplace({var: u}), e, u)  # the iteration that computed it
        if not free:
            return {"kind": "boundary", "at": (var, frm)}
        if sp.simplify(frm - free[-1]) == 0:  # the same iteration, in another plate
            return {"kind": "value"}
        computed = self.model.families[family].role == "intermediate"
        kind = "recurrence" if computed and home in chain else "offset"
        return {"kind": kind, "frm": frm, "to": free[-1]}


_KINDS = ("value", "boundary", "offset", "recurrence")


def _solve(expr, value, var):
    """The `var` at which the affine `expr` is `value`."""
    (solution,) = sp.solve(sp.Eq(expr, value), var)
    return solution


def _text(expr):
    return str(sp.sympify(expr, strict=True)).replace(" ", "")
