"""Derivations as users hold them: the data of the derivation layer, with its printed forms.

:class:`Derivation` and :class:`HVPDerivation` are the classes of
:mod:`symbackprop.derivation.reverse` and :mod:`symbackprop.derivation.tangent`
with the conveniences a notebook wants: ``pretty``, ``text``, ``latex``,
``markdown``, ``figure``, ``lambdify`` and the Markdown a notebook displays.
They sit on top of the printers and code generators, which import nothing from
here: the layers below hand data up, and only this façade (and the command
line) reaches down into all of them.

>>> import symbackprop as sbp
>>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
>>> print(d.pretty(d.adjoint("W2")))
(∂J/∂o) hᵀ + λ W2
>>> hvp = sbp.derive_hvp(d)
>>> print(hvp.pretty(hvp.hvp("W1")))
R{∂J/∂z} xᵀ + λ V_W1
"""

from __future__ import annotations

from .derivation import loop_tangent, recurrences, reverse, tangent
from .language.looped import LoopModel, WrittenOutModel
from .printing import documents, loops
from .printing.names import Notation, display_names, hvp_display_names
from .printing.printers import TextPrinter

# The figures, code generators, memory reports and proofs are imported by the methods
# that use them: a derivation printed as text (``symbackprop derive``) needs none of them.

__all__ = ["Derivation", "HVPDerivation", "LoopDerivation", "LoopHVPDerivation", "derive",
           "derive_hvp", "prove_printed"]


class _Printed:
    """What both derivations offer a reader: their expressions and documents as text,
    LaTeX and Markdown (which a notebook displays)."""

    #: The document writers of :mod:`symbackprop.printing.documents`: text, LaTeX, Markdown.
    _writers = ()

    def display_names(self, latex, notation=None):
        """How each symbol prints (:func:`symbackprop.printing.names.display_names`)."""
        raise NotImplementedError

    def pretty(self, expr):
        """An expression of this derivation as Unicode text, in the model's names."""
        return TextPrinter(self.display_names(latex=False)).doprint(expr)

    def text(self, **options):
        """The whole derivation as Unicode text; options as in
        :func:`symbackprop.printing.documents.text`."""
        return self._writers[0](self, **options)

    def latex(self, standalone=False, **options):
        """The whole derivation as LaTeX (a fragment, or a document that compiles); options
        as in :func:`symbackprop.printing.documents.latex`."""
        return self._writers[1](self, standalone=standalone, **options)

    def markdown(self, **options):
        """The whole derivation as Markdown with ``$$`` blocks; options as in
        :func:`symbackprop.printing.documents.markdown`."""
        return self._writers[2](self, **options)

    def _repr_markdown_(self):
        # Jupyter renders the $$ blocks with MathJax
        return self.markdown()


class Derivation(_Printed, reverse.Derivation):
    """The backward derivation of a model (see :class:`symbackprop.derivation.reverse.Derivation`),
    printable and compilable."""

    _writers = (documents.text, documents.latex, documents.markdown)

    def display_names(self, latex, notation=None):
        """How each symbol prints: variables, adjoints, abstract functions and their partials."""
        return display_names(self, latex, notation or Notation())

    def figure(self, backward=False):
        """The computational (or backward) graph as a
        :class:`~symbackprop.printing.figures.Figure`, which a notebook shows as SVG."""
        from .printing.figures import Figure
        return Figure(self, backward)

    def html(self, second_order=True, **options):
        """The derivation as one interactive web page (:func:`symbackprop.printing.page.html`),
        with the Hessian-vector products of the params and the second-order graph unless
        `second_order` is False; options as in :func:`symbackprop.printing.documents.latex`.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> page = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).html()
        >>> 'data-show="second-order"' in page and "<math" in page
        True
        """
        from .printing import page
        return page.html(self, derive_hvp(self) if second_order else None, **options)

    def lambdify(self, bind=None, wrt=None, dims=None):
        """A NumPy function computing the objective and the params' gradients.

        Parameters
        ----------
        bind : dict of str to str, optional
            Abstract functions to bind to built-ins, e.g.
            ``{"phi": "tanh", "ell": "squared_error"}``.
        wrt : list of str, optional
            The variables whose gradients are returned: the params by default;
            inputs may be added (``wrt=["W1", "x"]``).
        dims : dict of str to int, optional
            The sizes of the dims no array has (``k`` of a slice ``v[k..n]``).

        Returns
        -------
        callable
            ``f(**arrays) -> (J, grads)``; see
            :func:`symbackprop.printing.numpy_function.compile_derivation`.

        Raises
        ------
        ModelError
            If an abstract function is left unbound.
        """
        from .printing.numpy_function import compile_derivation
        return compile_derivation(self.bound(bind), wrt, dims)

    def memory(self, wrt=None):
        """What backward keeps: each value's lifetime, and the peak memory of training and
        inference (:func:`symbackprop.printing.memory.memory_report`).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
        >>> d.memory().kept
        ('x', 'y', 'W1', 'W2', 'λ', 'z', 'h', 'o')
        """
        from .printing.memory import memory_report
        return memory_report(self, wrt)


class HVPDerivation(_Printed, tangent.HVPDerivation):
    """The Hessian-vector products of a model (see
    :class:`symbackprop.derivation.tangent.HVPDerivation`), printable and compilable."""

    _writers = (documents.hvp_text, documents.hvp_latex, documents.hvp_markdown)

    def display_names(self, latex, notation=None):
        """How each symbol prints: the first-order names, plus directions and tangents."""
        return hvp_display_names(self, latex, notation or Notation())

    def figure(self):
        """The graph of the tangent sweep on the backward graph, as a
        :class:`~symbackprop.printing.figures.Figure` (SVG in a notebook).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
        >>> hvp.figure()
        <second-order graph of J: 28 nodes>
        """
        from .printing.figures import Figure
        return Figure(self.derivation, second_order=self)

    def html(self, **options):
        """The first-order derivation and these Hessian-vector products as one interactive
        web page (:func:`symbackprop.printing.page.html`)."""
        from .printing import page
        return page.html(self.derivation, self, **options)

    def lambdify(self, bind=None):
        """A NumPy function computing J, its gradients and H v for the `wrt` variables.

        Returns
        -------
        callable
            ``f(v, **arrays) -> (J, grads, hvps)``: `v` holds a direction
            for each of `wrt` by name, in the variable's shape (``v=`` works
            too when no variable is named v); `grads` and `hvps` are dicts
            in the variables' shapes.

        Examples
        --------
        >>> import numpy as np, symbackprop as sbp
        >>> d = sbp.derive(sbp.parse("dim n\\nparam w: vector(n)\\nJ = norm(w)^2\\nobjective J"))
        >>> f = sbp.derive_hvp(d).lambdify()
        >>> J, grads, hvps = f(w=np.array([1.0, 2.0]), v={"w": np.array([1.0, 0.0])})
        >>> hvps["w"]
        array([2., 0.])
        """
        from .printing.numpy_function import compile_hvp
        return compile_hvp(self.bound(bind))

    def memory(self):
        """What the H v program keeps: each value's lifetime, tangents included, and its peak
        memory beside training's and inference's
        (:func:`symbackprop.printing.memory.hvp_memory_report`).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
        >>> report = hvp.memory()
        >>> report.formula_parts("hvp")[0]  # the caller holds the directions too
        '2*d*h + d + 2*h*q + q + 1'
        >>> report.elements("hvp", {"d": 784, "h": 256, "q": 10})
        814108
        """
        from .printing.memory import hvp_memory_report
        return hvp_memory_report(self)


class LoopDerivation(_Printed, recurrences.LoopDerivation):
    """The backward derivation of a model with loops, for a general index (see
    :class:`symbackprop.derivation.recurrences.LoopDerivation`), printable, and
    comparable with the model written out at a length.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp"))
    >>> [str(s.adjoint) for s in d.steps if s.node == "h"][:1]
    ['Member(∂L/∂h, t, h, 1)']
    >>> print(d.prove({"T": 2}))
    general derivation at T = 2: 22 formulas agree
    """

    _writers = (loops.loop_text, loops.loop_latex, loops.loop_markdown)

    def display_names(self, latex, notation=None):
        """How the model's names print: single values, families, functions."""
        return loops.loop_names(self, latex, notation or Notation())

    def pretty(self, expr):
        """An expression of this derivation as Unicode text, members with their indices."""
        return loops.LoopTextPrinter(self.display_names(latex=False), Notation(),
                                     self.model.objective).doprint(expr)

    def html(self, second_order=True, **options):
        """The derivation as one interactive web page
        (:func:`symbackprop.printing.loop_page.loop_html`): the general formulas and the
        folded graph, with the Hessian-vector products of the params unless `second_order`
        is False; options as in :func:`symbackprop.printing.loops.loop_latex`.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> page = sbp.derive(sbp.load("examples/loops/bptt.sbp")).html()
        >>> 'data-document="hvp"' in page and "<svg" in page
        True
        """
        from .printing.loop_page import loop_html
        return loop_html(self, derive_hvp(self) if second_order else None, **options)

    def memory(self):
        """What backward keeps, in the lengths and widths
        (:func:`symbackprop.printing.loop_memory.loop_memory_report`)."""
        from .printing.loop_memory import loop_memory_report
        return loop_memory_report(self)

    def unrolled(self, lengths=None):
        """The derivation of the model written out at `lengths` (``{"T": 3}``): the
        :class:`Derivation` of a model without loops, which prints, compiles and is proved
        like any other."""
        return Derivation.of(self.model.unrolled(lengths))

    def prove(self, lengths, dims=None):
        """This derivation at `lengths` against the written-out model's, formula by formula
        (:func:`symbackprop.proofs.instances.prove_instances`)."""
        from .proofs.instances import prove_instances
        return prove_instances(self, lengths, dims)

    def prove_printed(self, lengths=None, **options):
        """Every formula printed for this derivation read back at `lengths`, at every index
        its heading gives (:func:`symbackprop.proofs.loop_readback.prove_printed_loops`).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.derive(sbp.load("examples/loops/mlp_layers.sbp"))
        >>> print(d.prove_printed({"L": 4}).summary())
        printed formulas: text 9/9, LaTeX 9/9, Markdown 9/9 read back equal
        """
        from .proofs.loop_readback import prove_printed_loops
        return prove_printed_loops(self, lengths, **options)

    def figure(self, unrolled=None):
        """The folded graph, each loop's body once inside its plate, as a
        :class:`~symbackprop.printing.loop_figures.LoopFigure` (SVG in a notebook); with
        `unrolled` lengths (``{"T": 3}``), the graph of the model written out, a
        :class:`~symbackprop.printing.figures.Figure`.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp"))
        >>> d.figure()
        <folded graph of L: 18 nodes, 1 plate>
        >>> d.figure(unrolled={"T": 2})
        <graph of L: 27 nodes>
        """
        from .printing.loop_figures import LoopFigure
        if unrolled is not None:
            return self.unrolled(unrolled).figure()
        return LoopFigure(self)

    def bound(self, bind=None):
        """This derivation with abstract functions bound to built-ins; all must be bound."""
        from .printing.loop_code import loop_bound
        return loop_bound(self, bind)

    def lambdify(self, bind=None, wrt=None):
        """A NumPy function computing the objective and the gradients, written with the
        model's loops: the same code runs at every length.

        Parameters
        ----------
        bind : dict of str to str, optional
            Abstract functions to bind to built-ins, e.g. ``{"ell": "squared_error"}``.
        wrt : list of str, optional
            The params and inputs (single values or families) whose gradients are
            returned: the params by default.

        Returns
        -------
        callable
            ``f(**arrays) -> (J, grads)``, a family of members of one shape passed and
            returned as one array, index first; see
            :func:`symbackprop.printing.loop_function.compile_loop_derivation`.

        Raises
        ------
        ModelError
            If an abstract function is left unbound.
        """
        from .printing.loop_function import compile_loop_derivation
        return compile_loop_derivation(self.bound(bind), wrt)


class LoopHVPDerivation(_Printed, loop_tangent.LoopHVP):
    """The Hessian-vector products of a model with loops, for a general index (see
    :class:`symbackprop.derivation.loop_tangent.LoopHVP`), printable and comparable with the
    model written out at a length.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/loops/bptt.sbp")))
    >>> print(hvp.prove({"T": 2}))
    general derivation at T = 2: 11 formulas agree
    """

    _writers = (loops.loop_hvp_text, loops.loop_hvp_latex, loops.loop_hvp_markdown)

    def display_names(self, latex, notation=None):
        """How the names print, directions and tangents included."""
        return loops.loop_hvp_names(self, latex, notation or Notation())

    def pretty(self, expr):
        """An expression of this derivation as Unicode text."""
        return loops.LoopTextPrinter(self.display_names(latex=False), Notation(),
                                     self.derivation.model.objective).doprint(expr)

    def html(self, **options):
        """The first-order derivation and these Hessian-vector products as one interactive
        web page (:func:`symbackprop.printing.loop_page.loop_html`)."""
        from .printing.loop_page import loop_html
        return loop_html(self.derivation, self, **options)

    def prove(self, lengths, dims=None):
        """These tangents at `lengths` against the written-out model's H v derivation
        (:func:`symbackprop.proofs.instances.prove_hvp_instances`)."""
        from .proofs.instances import prove_hvp_instances
        return prove_hvp_instances(self, lengths, dims)

    def prove_printed(self, lengths=None, **options):
        """Every formula printed for these tangents read back at `lengths`, at every index
        (:func:`symbackprop.proofs.loop_readback.prove_printed_loops`).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/loops/bptt.sbp")))
        >>> print(hvp.prove_printed(formats=("text",)).summary())
        printed formulas: text 9/9 read back equal
        """
        from .proofs.loop_readback import prove_printed_loops
        return prove_printed_loops(self, lengths, **options)


def derive(model):
    """Derive the backward pass of a model (:func:`symbackprop.derivation.reverse.derive`;
    for a model with loops, :func:`symbackprop.derivation.recurrences.derive_loops`).

    Parameters
    ----------
    model : Model or LoopModel
        From :func:`symbackprop.parse` or :func:`symbackprop.load`.

    Returns
    -------
    Derivation or LoopDerivation

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.parse('''
    ... dim n, m
    ... input x: vector(n)
    ... param W: matrix(m, n)
    ... z = W @ x
    ... J = sum(tanh(z))
    ... objective J
    ... '''))
    >>> d.order
    ('J', 'z', 'W', 'x')
    >>> print(d.pretty(d.adjoint("W")))
    (∂J/∂z) xᵀ
    """
    if isinstance(model, LoopModel):
        return LoopDerivation.of(model)
    if isinstance(model, WrittenOutModel):
        raise model.why
    return Derivation.of(model)


def derive_hvp(derivation, wrt=None, along=None):
    """Derive the Hessian-vector products of a derivation, node by node
    (:func:`symbackprop.derivation.tangent.derive_hvp`).

    Parameters
    ----------
    derivation : Derivation
    wrt : list of str, optional
        The variables whose H v is derived: the params by default; inputs may
        be added.
    along : list of str, optional
        The variables that move along a direction: `wrt` by default.  With one
        variable B, H v for A is the block d2J/dA dB applied to V_B.

    Returns
    -------
    HVPDerivation

    Examples
    --------
    >>> import symbackprop as sbp
    >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> print(hvp.pretty(hvp.tangent("o")))
    V_W2 h + W2 R{h}
    """
    if isinstance(derivation, LoopDerivation):
        if along is not None:
            raise ValueError("along: not yet for a model with loops; write it out with "
                             "derivation.unrolled(...)")
        return LoopHVPDerivation.of(derivation, wrt)
    return HVPDerivation.of(derivation, wrt, along)


def prove_printed(derivation, **options):
    """Read back every formula printed for a derivation and check its value: a derivation
    without loops or its H v (:func:`symbackprop.proofs.readback.prove_printed`), or one
    with loops or its H v (:meth:`LoopDerivation.prove_printed`, at `lengths` if given).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> print(sbp.prove_printed(sbp.derive(sbp.load("examples/loops/bptt.sbp"))).summary())
    printed formulas: text 16/16, LaTeX 16/16, Markdown 16/16 read back equal
    """
    if isinstance(derivation, (LoopDerivation, LoopHVPDerivation)):
        return derivation.prove_printed(**options)
    from .proofs.readback import prove_printed as _prove_printed
    return _prove_printed(derivation, **options)
