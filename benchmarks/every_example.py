"""Section 6 of ``benchmarks/run.py``: every example, generated code against PyTorch and by hand.

Each example of ``examples/`` and ``examples/loops/`` runs at two sizes: large (a
batch dim ``n`` of 256, every other dim 256, loops of 16 steps and 3 layers)
and small (batch 1, every other dim 16), in float64.  Its generated
value-and-gradients (``lambdify``, as a user calls it: 1-D vectors in and out)
is timed interleaved with PyTorch autograd on the same model (the expression
trees of the model evaluated with torch operations on tensors made once,
``torch.autograd.grad`` for the params) on as many threads as NumPy's BLAS,
after both are checked equal.  Five models also have hand-written NumPy
backprop, checked equal to the generated gradients first: the textbook MLP
(tanh, squared error), the minibatch MLP with biases (``loops/mlp_layers_batch``,
ReLU and cross-entropy, 2 layers), softmax regression, self-attention and the
tanh RNN (``loops/rnn_tanh``).  Targets: generated / hand-written <= 1.05 on those
five at both sizes, generated / PyTorch <= 1.0 on every example at the large size.
At the large size, the most memory one call holds at once is measured too, for the
generated code and PyTorch alike (:func:`peaks`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import sympy as sp

import symbackprop as sbp
from symbackprop.derivation.loop_program import is_stacked
from symbackprop.proofs.check import random_arrays

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

BIND = {"textbook_mlp": {"phi": "tanh", "ell": "squared_error"},
        "mlp_bias": {"phi": "relu", "ell": "cross_entropy"},
        "mlp_layers": {"phi": "tanh", "ell": "squared_error"},
        "mlp_layers_batch": {"phi": "relu", "ell": "cross_entropy"},
        "bptt": {"ell": "squared_error"}}
#: The length each example with loops loops over, at both sizes.
LENGTHS = {"bptt": {"T": 16}, "gru": {"T": 16}, "rnn_tanh": {"T": 16},
           "rnn_tanh_steps": {"T": 16}, "mlp_layers": {"L": 3}, "mlp_layers_batch": {"L": 2},
           "channels": {"O": 4, "C": 3}, "conv_channels": {"O": 4, "C": 3}}
SIZES = {"large": (256, 256), "small": (1, 16)}  # (batch, width)
#: Sizes that are not a batch or a width: a LeNet-sized image and kernel, at both sizes.
FIXED_DIMS = {"conv_channels": {"n": 28, "m": 28, "p": 5, "r": 5}}


def examples():
    """(name, path) of every example, the flat ones first."""
    flat = sorted((ROOT / "examples").glob("*.sbp"))
    return [(p.stem, p) for p in flat] + [(p.stem, p) for p in
                                          sorted((ROOT / "examples" / "loops").glob("*.sbp"))]


def _looped(model, flat_values, lengths):
    """The values of a written-out model in the looped layout (as tests/test_loop_code.py)."""
    at = {model.dims[n]: v for n, v in lengths.items()}
    out = {n: flat_values[n] for n in model.variables if n in flat_values}
    for name, family in model.families.items():
        bounds = list(family.ranges) + [(e.lo, e.hi) for e in family.extra]
        indices = [range(lo, hi + 1) for lo, hi in
                   ((int(sp.sympify(b).xreplace(at)) for b in r) for r in bounds)]
        if len(indices) == 2:  # K[o, c]: stacked with both indices first, (O, C, p, r)
            if f"{name}_{indices[0][0]}_{indices[1][0]}" in flat_values:
                out[name] = np.stack([np.stack([flat_values[f"{name}_{o}_{c}"]
                                                for c in indices[1]]) for o in indices[0]])
            continue
        if f"{name}_{indices[0][0]}" not in flat_values:
            continue
        members = [flat_values[f"{name}_{k}"] for k in indices[0]]
        out[name] = np.stack(members) if is_stacked(family) else members
    return out


def prepare(name, path, batch, width):
    """(generated function, its arrays, the written-out model, its arrays, its wrt)."""
    model = sbp.load(path, bind=BIND.get(name))
    flat = model.unrolled(LENGTHS[name]) if name in LENGTHS else model
    dims = {n: batch if n == "n" else width for n in flat.dims}
    dims.update(FIXED_DIMS.get(name, {}))
    values = random_arrays(flat, dims, seed=1)
    # params at the scale of an initialisation, 1/sqrt(width): sigmoids and logs stay finite
    values.update({n: values[n] / np.sqrt(width) for n, v in flat.variables.items()
                   if v.role == "param"})
    for key in ("Y", "y") if name in ONE_HOT else ():
        values = {**values, **_one_hot(flat, values, key)}
    f = sbp.derive(model).lambdify()
    arrays = _looped(model, values, LENGTHS[name]) if name in LENGTHS else values
    wrt = [n for n in sbp.derive(flat).params]
    return f, arrays, flat, values, wrt


#: Examples whose targets are labels: one-hot rows, as a hand-writer's softmax - Y assumes.
ONE_HOT = {"softmax_regression", "mlp_layers_batch", "mlp_minibatch", "mlp_bias", "skipgram"}


def _one_hot(model, values, key):
    out = {}
    for name, value in values.items():
        if name == key or name.startswith(key + "_"):
            rng = np.random.default_rng(len(out))
            hot = np.zeros_like(value)
            if hot.ndim == 1:
                hot[rng.integers(len(hot))] = 1.0
            else:
                hot[np.arange(len(hot)), rng.integers(hot.shape[1], size=len(hot))] = 1.0
            out[name] = hot
    return out


def torch_function(model, values, wrt):
    """Value and gradients of a (written-out) model by PyTorch autograd, tensors made once."""
    import torch
    from reference import _sizes, _torch_ops, cut, dims_of
    from symbackprop.language.model import Literal, Ref

    ops = _torch_ops(torch, _sizes(model, values))
    sizes = dims_of(model, values)
    given = {}
    for v in model.variables.values():
        if v.declared:
            t = torch.tensor(np.asarray(values[v.name], dtype=np.float64))
            given[v.name] = (t.reshape(-1, 1) if v.shape.kind == "vector" else t
                             ).requires_grad_(v.name in wrt)
    literals = {}

    def evaluate(tree, env):
        if isinstance(tree, Ref):
            return env[tree.name]
        if isinstance(tree, Literal):
            if tree.value not in literals:
                literals[tree.value] = torch.tensor(float(tree.value), dtype=torch.float64)
            return literals[tree.value]
        if tree.op.name == "pow" and tree.param.is_Symbol:  # x ^ k, k a const
            return evaluate(tree.args[0], env) ** env[tree.param.name]
        if tree.op.name == "slice":  # rows or columns lo..hi, as tests/reference.py cuts them
            return cut(evaluate(tree.args[0], env), tree.param, sizes)
        return ops[tree.op.name](tree, *[evaluate(a, env) for a in tree.args])

    params = [given[n] for n in wrt]

    def value_and_grad():
        env = dict(given)
        for a in model.assignments:
            env[a.target] = evaluate(a.tree, env)
        J = env[model.objective]
        return J, torch.autograd.grad(J, params, allow_unused=True)

    return value_and_grad


def _flat(value):
    if isinstance(value, (list, tuple)):
        return np.concatenate([np.ravel(np.asarray(m)) for m in value])
    return np.ravel(np.asarray(value))


def rel(a, b):
    a, b = _flat(a), _flat(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _member_indices(flat_name, family):
    """(o, c) of K_o_c, (t,) of h_t, for a member of `family`; () for anything else."""
    parts = flat_name[len(family) + 1:].split("_")
    if not flat_name.startswith(family + "_") or not all(p.isdigit() for p in parts):
        return ()
    return tuple(int(p) for p in parts)


def torch_agrees(f, arrays, torch_fn, model, wrt, flat_values):
    """The largest relative difference between the generated and PyTorch's gradients."""
    J, grads = f(**arrays)
    J_t, g_t = torch_fn()
    by_torch = {n: (np.zeros(np.shape(flat_values[n])) if g is None else g.detach().numpy())
                for n, g in zip(wrt, g_t)}
    errors = [rel(J, J_t.item())]
    for name, g in grads.items():
        members = sorted((n for n in by_torch if n == name or _member_indices(n, name)),
                         key=lambda n: _member_indices(n, name))
        errors.append(rel(g, [by_torch[n] for n in members]))
    return max(errors)


# --------------------------------------------------------------------------- by hand

def hand_textbook_mlp(x, y, W1, W2, lambda_):
    """J = ½‖W2 tanh(W1 x) - y‖² + λ/2 (‖W1‖² + ‖W2‖²), vectors 1-D."""
    h = np.tanh(W1 @ x)
    e = W2 @ h - y
    J = 0.5 * np.vdot(e, e) + 0.5 * lambda_ * (np.vdot(W1, W1) + np.vdot(W2, W2))
    gz = (W2.T @ e) * (1.0 - h * h)
    return J, {"W1": np.outer(gz, x) + lambda_ * W1, "W2": np.outer(e, h) + lambda_ * W2}


def _softmax_rows(S):
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def hand_softmax_regression(X, Y, W, b):
    """J = cross-entropy of softmax(X W + b) against one-hot rows Y, averaged over rows."""
    logits = X @ W + b
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(X)
    J = -np.vdot(Y, logp) / n
    G = (np.exp(logp) - Y) / n
    return J, {"W": X.T @ G, "b": G.sum(axis=0)}


def hand_mlp_layers_batch(X, Y, W, b):
    """H_l = relu(H_(l-1) W_l + b_l), J = cross-entropy of H_L against one-hot rows Y."""
    Hs, Zs = [X], []
    for Wl, bl in zip(W, b):
        Zs.append(Hs[-1] @ Wl + bl)
        Hs.append(np.maximum(Zs[-1], 0.0))
    shifted = Hs[-1] - Hs[-1].max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(X)
    J = -np.vdot(Y, logp) / n
    G = (np.exp(logp) - Y) / n
    gW, gb = [None] * len(W), [None] * len(W)
    for k in range(len(W) - 1, -1, -1):
        D = G * (Zs[k] > 0)
        gW[k], gb[k] = Hs[k].T @ D, D.sum(axis=0)
        if k:
            G = D @ W[k].T
    return J, {"W": gW, "b": gb}


def hand_self_attention(X, T, Wq, Wk, Wv, dk):
    """out = softmax(Q Kᵀ / √dk) V, J = ½‖out - T‖²."""
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    scale = 1.0 / np.sqrt(dk)
    A = _softmax_rows(scale * (Q @ K.T))
    G = A @ V - T
    J = 0.5 * np.vdot(G, G)
    gA = G @ V.T
    gS = A * (gA - (A * gA).sum(axis=1, keepdims=True))
    gQ, gK, gV = scale * (gS @ K), scale * (gS.T @ Q), A.T @ G
    return J, {"Wq": X.T @ gQ, "Wk": X.T @ gK, "Wv": X.T @ gV}


def hand_rnn_tanh(X, Y, H0, W_xh, W_hh, W_hq):
    """H_t = tanh(X_t W_xh + H_(t-1) W_hh), J = Σ_t mean((H_t W_hq - Y_t)²)."""
    Hs, Es, J = [H0], [], 0.0
    for t in range(len(X)):
        Hs.append(np.tanh(X[t] @ W_xh + Hs[-1] @ W_hh))
        Es.append(Hs[-1] @ W_hq - Y[t])
        J += np.vdot(Es[-1], Es[-1]) / Es[-1].size
    g_xh, g_hh, g_hq = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros_like(W_hq)
    D = None
    for t in range(len(X), 0, -1):
        G = (2.0 / Es[t - 1].size) * Es[t - 1]
        g_hq += Hs[t].T @ G
        dH = G @ W_hq.T
        if D is not None:
            dH += D @ W_hh.T
        D = dH * (1.0 - Hs[t] * Hs[t])
        g_xh += X[t - 1].T @ D
        g_hh += Hs[t - 1].T @ D
    return J, {"W_xh": g_xh, "W_hh": g_hh, "W_hq": g_hq}


HAND = {"textbook_mlp": hand_textbook_mlp, "softmax_regression": hand_softmax_regression,
        "mlp_layers_batch": hand_mlp_layers_batch, "self_attention": hand_self_attention,
        "rnn_tanh": hand_rnn_tanh}


def hand_call(name, arrays):
    """The hand-written value-and-gradients of `name` on `arrays`, as a call of nothing."""
    given = {("lambda_" if k == "lambda" else k): v for k, v in arrays.items()}
    return lambda: HAND[name](**given)


def hand_agrees(name, f, arrays):
    """The largest relative difference between the generated and the hand-written results."""
    J, grads = f(**arrays)
    J_hand, g_hand = hand_call(name, arrays)()
    return max([rel(J, J_hand)] + [rel(g, g_hand[n]) for n, g in grads.items()])


# --------------------------------------------------------------------------- the section

def bench_examples(threads, interleaved, row, note, budget=2.0):
    """Time every example at both sizes; print the table; add the judged rows.

    `threads` is the thread count of NumPy's BLAS and of PyTorch alike (run.py gives 1,
    as for section 5: two thread pools taking turns on 2 cores time the pools, not the code).
    """
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _all(threads, interleaved, row, note, budget, torch)
    finally:
        torch.set_num_threads(before)


def _all(threads, interleaved, row, note, budget, torch):
    print(f"  generated (lambdify) vs PyTorch autograd ({torch.__version__}, {threads} threads) "
          "and, for five, hand-written NumPy; medians of interleaved repeats, spread = "
          "largest IQR/median of the candidates", flush=True)
    print("  module/gen: the generated function called without the wrapper that checks and "
          "converts the arrays (flat models)", flush=True)
    print("  peak MB: the most memory one call holds at once (large size), generated and "
          "PyTorch", flush=True)
    print(f"  {'example':22s} {'size':5s} {'gen ms':>9s} {'gen/torch':>9s} {'gen/hand':>9s} "
          f"{'module/gen':>9s} {'spread':>7s} {'peak gen':>8s} {'torch':>8s}", flush=True)
    results = {}
    for name, path in examples():
        for size, (batch, width) in SIZES.items():
            results[name, size] = _one(name, path, batch, width, size, interleaved, budget)
    _judged(results, row, note)
    return results


def _one(name, path, batch, width, size, interleaved, budget):
    f, arrays, flat, values, wrt = prepare(name, path, batch, width)
    torch_fn = torch_function(flat, values, wrt)
    err = torch_agrees(f, arrays, torch_fn, flat, wrt, values)
    if err > 1e-10:
        raise AssertionError(f"{name}: generated and PyTorch gradients differ by {err:.1e}")
    candidates = {"generated": lambda: f(**arrays), "torch": torch_fn}
    if name in HAND:
        err = hand_agrees(name, f, arrays)
        if err > 1e-10:
            raise AssertionError(f"{name}: generated and hand-written differ by {err:.1e}")
        candidates["hand"] = hand_call(name, arrays)
    if name not in LENGTHS:
        candidates["module"] = _module_call(f, flat, arrays)
    t, spread, _, _, _ = interleaved(candidates, repeats=15, min_repeats=5, budget=budget,
                                     min_time=0.02, warmup=2)
    out = {"generated": t["generated"], "torch": t["generated"] / t["torch"],
           "hand": t["generated"] / t["hand"] if "hand" in t else None,
           "module": t["module"] / t["generated"] if "module" in t else None,
           "spread": max(spread.values()), "peak": None}
    if size == "large":  # memory: the peaks of one call each, in a process of its own
        out["peak"] = peaks(name, path, batch, width)
    hand, module = (f"{out[k]:9.2f}" if out[k] is not None else f"{'':9s}"
                    for k in ("hand", "module"))
    held = (f"{out['peak'][0] / 2**20:8.1f} {out['peak'][1] / 2**20:8.1f}" if out["peak"]
            else f"{'':17s}")
    print(f"  {name:22s} {size:5s} {t['generated'] * 1e3:9.3f} {out['torch']:9.2f} {hand} "
          f"{module} {out['spread']:7.0%} {held}", flush=True)
    return out


def peaks(name, path, batch, width):
    """The most memory one call of the generated code and one of PyTorch hold at once:
    (bytes, bytes), or None where the machine cannot say.

    Each is measured in a process of its own (``python every_example.py --peaks``): after
    a first call, the peak resident set (Linux: VmHWM, reset first) less the size before the
    call; glibc is told to map every large array on its own, so that a freed array leaves the
    resident set and the peak is what is held at once.  It counts what NumPy and PyTorch
    allocate alike (PyTorch's allocator reports nothing to tracemalloc).
    """
    if not Path("/proc/self/clear_refs").exists():
        return None
    done = subprocess.run([sys.executable, __file__, "--peaks", name, str(path), str(batch),
                           str(width)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
    if done.returncode != 0:
        raise RuntimeError(f"{name}: measuring the peaks failed: {done.stderr[-2000:]}")
    generated, torch = map(int, done.stdout.split())
    return generated, torch


def _measured_peaks(name, path, batch, width):
    """In the process of its own: each candidate called once to warm up, then measured."""
    import torch
    torch.set_num_threads(1)
    f, arrays, flat, values, wrt = prepare(name, Path(path), batch, width)
    calls = [lambda: f(**arrays), torch_function(flat, values, wrt)]
    out = []
    for call in calls:
        call()
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # the peak resident set starts again from the current one
        before = _status("VmRSS")
        call()
        out.append(_status("VmHWM") - before)
    print(*out)


def _status(field):
    """A size of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _module_call(f, model, arrays):
    """The generated module's value_and_grad called directly, its arguments checked and
    converted once: what the code costs without the wrapper's checks."""
    from symbackprop.printing.numpy_code import _dim_sources
    from symbackprop.printing.numpy_function import _Arrays, _passed
    namespace = {}
    exec(compile(f.source, "<generated>", "exec"), namespace)
    convert = _Arrays(model)
    passed = _passed(model, convert(arrays), len(convert.declared), _dim_sources(model))
    function = namespace["value_and_grad"]
    return lambda: function(*passed)


def _judged(results, row, note):
    section = "6 every example"
    for size in SIZES:
        ratios = {n: r["torch"] for (n, s), r in results.items() if s == size}
        slow = sorted((n for n, x in ratios.items() if x > 1.0), key=lambda n: -ratios[n])
        judged = size == "large"
        row(section, f"{size}: examples with generated / PyTorch <= 1.0",
            f"{len(ratios) - len(slow)}/{len(ratios)}", "all" if judged else "(info)",
            not slow if judged else None)
        if slow:
            row(section, f"  {size}: slower than PyTorch", ", ".join(
                f"{n} {ratios[n]:.2f}" for n in slow), "(info)")
        for name in HAND:
            r = results[name, size]["hand"]
            row(section, f"{size}: {name} generated / hand-written", f"{r:.2f}", "<= 1.05",
                r <= 1.05)
    held = {n: r["peak"][0] / r["peak"][1] for (n, s), r in results.items()
            if s == "large" and r["peak"] and r["peak"][1]}
    if held:
        more = sorted((n for n, x in held.items() if x > 1.0), key=lambda n: -held[n])
        row(section, "large: examples holding at most PyTorch's peak memory",
            f"{len(held) - len(more)}/{len(held)}", "(info)")
        if more:
            row(section, "  large: more memory than PyTorch", ", ".join(
                f"{n} {held[n]:.2f}" for n in more), "(info)")
    worst = max(r["spread"] for r in results.values())
    if worst > 0.15:
        note(f"section 6 timings are noisy (spread up to {worst:.0%}): other processes compete "
             "for the CPUs; rerun on a quiet machine before trusting the ratios")


if __name__ == "__main__" and sys.argv[1:2] == ["--peaks"]:  # one measurement, see peaks()
    _measured_peaks(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
