"""symbackprop: derive backpropagation by symbols.

Write a model as equations; get its computational graph, the backward
derivation node by node in matrix notation, and NumPy code checked against
finite differences and SymPy's elementwise differentiation.

>>> import symbackprop as sbp
>>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
>>> print(d.pretty(d.adjoint("z")))
∂J/∂h ⊙ φ'(z)
"""

from .errors import ModelError
from .model import Model, load, parse
from .derivation import Derivation, Step, Term, derive
from .checks import CheckReport, VerifyReport, check, verify
from .figures import graph_figure
from .printing import Notation
from .readback import ReadbackReport, prove_printed
from .second_order import HVPDerivation, derive_hvp, hessian_block, verify_hvp

__all__ = ["ModelError", "Model", "parse", "load", "derive", "Derivation", "Step", "Term",
           "check", "verify", "CheckReport", "VerifyReport", "graph_figure", "Notation",
           "derive_hvp", "HVPDerivation", "hessian_block", "verify_hvp", "prove_printed",
           "ReadbackReport"]
__version__ = "0.1.0"
