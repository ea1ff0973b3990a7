"""symbackprop: derive backpropagation by symbols.

Write a model as equations; get its computational graph, the backward
derivation node by node in matrix notation, and NumPy code checked against
finite differences and SymPy's elementwise differentiation.

>>> import symbackprop as sbp
>>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
>>> print(d.pretty(d.adjoint("z")))
∂J/∂h ⊙ φ'(z)
"""

import importlib

__version__ = "0.1.0"

#: Each public name and the module defining it.  The modules are imported on first use
#: (PEP 562): ``import symbackprop`` and ``symbackprop --version`` then cost no SymPy,
#: NetworkX or NumPy, which take most of a second to import.
_PUBLIC = {
    "ModelError": "errors", "ModelWarning": "errors",
    "Model": "language.model", "LoopModel": "language.looped",
    "parse": "language.loading", "load": "language.loading",
    "derive": "api", "Derivation": "api", "Step": "derivation.reverse",
    "Term": "derivation.reverse", "check": "proofs.check", "verify": "proofs.verify",
    "CheckReport": "proofs.check", "VerifyReport": "proofs.verify",
    "graph_figure": "printing.figures", "Notation": "printing.names",
    "derive_hvp": "api", "HVPDerivation": "api", "LoopDerivation": "api",
    "LoopHVPDerivation": "api", "hessian_block": "proofs.hessian",
    "verify_hvp": "proofs.verify", "prove_printed": "api",
    "ReadbackReport": "proofs.readback",
}

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value  # found once: later look-ups do not come back here
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
