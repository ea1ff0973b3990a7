"""The looped layout of values, for the tests: a written-out model's x_1, x_2, ... as the
looped code of its model with loops takes and gives them."""

import numpy as np
import sympy as sp

from symbackprop.derivation.loop_program import is_stacked


def differentiable(model):
    """The params and inputs of a model with loops (single values and families)."""
    return [n for n, role in model.roles.items() if role in ("param", "input")]


def looped(model, flat_values, lengths):
    """Values of the written-out model (x_1, x_2, ...) in the looped layout: a family of one
    shape stacked, index first; one whose shape varies a list.  A declared family none of
    whose members is given is left out, unless it is differentiable."""
    at = {model.dims[n]: v for n, v in lengths.items()}
    moving = differentiable(model)
    out = {n: flat_values[n] for n in model.variables if n in flat_values}
    for name, family in model.families.items():
        lo, hi = (int(sp.sympify(b).xreplace(at)) for b in family.ranges[0])
        if not family.declared or name not in moving and f"{name}_{lo}" not in flat_values:
            continue
        members = [flat_values[f"{name}_{k}"] for k in range(lo, hi + 1)]
        out[name] = np.stack(members) if is_stacked(family) else members
    return out
