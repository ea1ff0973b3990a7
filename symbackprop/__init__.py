"""symbackprop: derive backpropagation by symbols.

Write a model as equations; get its computational graph, the backward
derivation node by node in matrix notation, and NumPy code checked against
finite differences and SymPy's elementwise differentiation.

>>> import symbackprop as sbp
>>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
>>> print(d.pretty(d.adjoint("z")))
∂J/∂h ⊙ φ'(z)
"""

from .api import (Derivation, HVPDerivation, LoopDerivation, LoopHVPDerivation, derive,
                  derive_hvp, prove_printed)
from .derivation.reverse import Step, Term
from .errors import ModelError, ModelWarning
from .language.loading import load, parse
from .language.looped import LoopModel
from .language.model import Model
from .printing.figures import graph_figure
from .printing.names import Notation
from .proofs.check import CheckReport, check
from .proofs.hessian import hessian_block
from .proofs.readback import ReadbackReport
from .proofs.verify import VerifyReport, verify, verify_hvp

__all__ = ["ModelError", "ModelWarning", "Model", "LoopModel", "parse", "load", "derive",
           "Derivation", "Step",
           "Term", "check", "verify", "CheckReport", "VerifyReport", "graph_figure", "Notation",
           "derive_hvp", "HVPDerivation", "LoopDerivation", "LoopHVPDerivation", "hessian_block",
           "verify_hvp", "prove_printed", "ReadbackReport"]
__version__ = "0.1.0"
