"""Benchmarks for symbackprop: generated-code speed, derivation scaling, expression size.

Run from a clone of the repository (the package need not be installed; this
script imports the ``symbackprop`` next to it)::

    python benchmarks/run.py              # about 1-3 minutes on 2 cores
    python benchmarks/run.py --profile    # then profile the workloads that MISS

It measures, in one run, and prints a table with PASS/MISS against targets:

1. Objective and gradients of a 4-layer tanh MLP (minibatch 256, width 256,
   float64) with the function from ``sbp.derive(model).lambdify()``, as ratios
   to baselines timed in the same run, interleaved: hand-written NumPy
   backprop (checked equal to symbackprop's gradients to 1e-10 first), the
   NumPy forward pass alone, and PyTorch autograd on the CPU in float64 with
   as many threads as NumPy's BLAS.  Target: symbackprop / hand-written <= 1.15.
2. ``sbp.derive(model)`` then ``d.latex()`` for 64..1024-layer MLPs: time at
   64 layers (target <= 1 s), log-log slope of time against depth from 64 to
   1024 (target <= 1.2, least-squares fit over 64, 128, ..., 1024), and no
   RecursionError at 1024 layers.
3. Expression size, depth 1..6 of a width-3 tanh chain: the largest
   ``sympy.count_ops`` over the derivation's adjoints (should stay bounded)
   beside that of naive ``sympy.diff`` of the fully substituted objective
   (grows about 4x a layer).
4. ``d.lambdify()`` (code generation and compilation) of a 64-layer model:
   target <= 1 s.
5. Objective and gradients of the tanh RNN of ``examples/loops/rnn_tanh.sbp``
   (hidden 256, minibatch 64, input and output width 64, T = 100, float64)
   with the looped function of ``LoopDerivation.lambdify()``, whose source is
   the same for every T, as ratios to hand-written NumPy backpropagation
   through time (checked equal first) and PyTorch autograd, timed alongside,
   all on one BLAS thread (products this small gain little from a second, and
   a spinning thread pool makes the times follow other load).
   Target: symbackprop / hand-written <= 1.15.
6. Every example of ``examples/`` and ``examples/loops/`` at a large size (batch
   256, every other dim 256, loops of 16 steps) and a small one (batch 1, dims
   16), float64, one thread for NumPy's BLAS and PyTorch alike: the generated
   value-and-gradients against PyTorch autograd on the same model, and, for the
   textbook MLP, the minibatch MLP with biases, softmax regression,
   self-attention and the tanh RNN, against hand-written NumPy backprop (checked
   equal first), printed as a table of ratios with the spread (see
   ``benchmarks/every_example.py``).  Targets: generated / hand-written <= 1.05
   on those five, generated / PyTorch <= 1.0 on every example at the large size.
   ``--examples-only`` runs this section alone.
7. ``sbp.derive`` then ``d.latex()`` of the two models with loops of the
   founding issue (``examples/loops/bptt.sbp``, ``mlp_layers.sbp``) in general,
   derived once for every length (target <= 1 s), beside the same models
   written out at T (or L) = 4, 16 and 64, whose cost grows with the length.
8. Start-up: whole-process times of ``symbackprop --version``, ``--help`` and
   ``derive examples/textbook_mlp.sbp`` (``python -m symbackprop`` in a fresh
   process, its budget's child included), the median CPU time (user + system)
   and wall time of several runs, beside ``python -c pass`` and a process that
   only imports SymPy and NetworkX, the floor of any command that derives.
   Targets: --version and --help <= 0.15 s, derive <= 0.5 s of CPU.
   ``--startup-only`` runs this section alone.
9. A LeNet-style layer (28 x 28 images, 1 -> 8 channels, 5 x 5 kernels, ReLU, 2 x 2 max
   pooling, batch 64, float64): the generated value-and-gradients of
   ``benchmarks/lenet_layer.sbp`` (its loop code, one call on the stacked batch) against
   PyTorch autograd on the CPU (target <= 2.0) and against a hand-written NumPy im2col
   backward (see ``benchmarks/convolution.py``).  ``--conv-only`` runs it alone.

Every timing is the median of several repeats after a warm-up, with
``time.perf_counter``; SymPy's cache is cleared before each symbolic repeat so
that each costs what it costs in a fresh session.  Runtime is judged only by
ratios to baselines timed in the same run; sections 2 and 4 have the absolute
targets above.  Each section has a time budget; sizes that would not fit are
skipped, and the output says so.  The load average is printed: other processes
on the machine make timings noisy (section 1 warns when its repeats spread).

Models: section 1 writes ``H1 = tanh(X @ W1)`` ... ``H4 = tanh(H3 @ W4)``,
``J = mean(square(H4 - Y))``, with X, Y: matrix(n, w) (examples in rows); an
info row times the same model with ``Z_k = H_(k-1) @ W_k`` named.  Sections 2
and 4 use the same form with 64..1024 layers; section 3 the chain
``h_k = tanh(W_k @ h_(k-1))``, ``J = sum(h_L)`` on one example vector.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

# PyTorch's OpenMP workers spin for a while after each call by default, taking a core
# from whatever is timed next; passive workers sleep.  Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

import symbackprop as sbp  # noqa: E402

START = time.perf_counter()
ROWS = []  # (section, measurement, value, target, status)
NOTES = []


def elapsed():
    return time.perf_counter() - START


def row(section, what, value, target="", ok=None):
    status = "" if ok is None else ("PASS" if ok else "MISS")
    ROWS.append((section, what, value, target, status))


def note(text):
    NOTES.append(text)
    print("  note: " + text, flush=True)


# --------------------------------------------------------------------------- timing

def interleaved(candidates, repeats=21, min_repeats=5, budget=40.0, min_time=0.05, warmup=2):
    """Median seconds per call of each candidate, timed round-robin.

    Each repeat times every candidate in turn (``number`` calls each, chosen so
    that a repeat of the slowest takes at least `min_time`), so drifts of the
    machine fall on all candidates alike.  Repeats stop early (after
    `min_repeats`) once `budget` seconds are spent.  Returns the medians, the
    spreads (interquartile range / median), the minima, the repeats done and
    the calls per repeat.
    """
    start = time.perf_counter()
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    per_call = 0.0
    for fn in candidates.values():  # a batch of calls, not one, so one lucky call does not mislead
        calls, t = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - t < 0.05:
            fn()
            calls += 1
        per_call = max(per_call, (time.perf_counter() - t) / calls)
    number = max(1, math.ceil(min_time / per_call))
    samples = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(repeats):
        if r >= min_repeats and time.perf_counter() - start > budget:
            break
        # a different candidate first each repeat: none always runs just after another's
        # after-effects (PyTorch's worker threads, a cold cache)
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = candidates[name]
            t = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t) / number)
    done = len(next(iter(samples.values())))
    spread = {name: (np.percentile(s, 75) - np.percentile(s, 25)) / statistics.median(s)
              for name, s in samples.items()}
    best = {name: min(s) for name, s in samples.items()}
    return {name: statistics.median(s) for name, s in samples.items()}, spread, best, done, number


def median_time(fn, repeats, setup=None):
    """Median seconds of `fn(setup())` over `repeats` runs, SymPy's cache cleared before each."""
    times = []
    for _ in range(repeats):
        arg = setup() if setup else None
        clear_cache()
        t = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _openblas(what):
    """NumPy's OpenBLAS function ``openblas_<what>_num_threads`` under the names its builds
    give it, or None."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
    libs += glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_", "64_"), ("", "64_"), ("", "")):
            fn = getattr(lib, f"{prefix}openblas_{what}_num_threads{suffix}", None)
            if fn is not None:
                return fn
    return None


def blas_threads():
    """NumPy's BLAS thread count (OpenBLAS queried directly), else the CPU count."""
    getter = _openblas("get")
    if getter is not None:
        return int(getter()), "OpenBLAS"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), var
    return os.cpu_count() or 1, "os.cpu_count()"


def set_blas_threads(count):
    """Set NumPy's BLAS (OpenBLAS) thread count; returns the count before, or None if unknown."""
    setter, getter = _openblas("set"), _openblas("get")
    if setter is None or getter is None:
        return None
    before = int(getter())
    setter(count)
    return before


# --------------------------------------------------------------------------- models

def mlp_text(layers, split=False):
    """A tanh MLP on a minibatch: examples in the rows of X, W1..WL square, mean squared error."""
    lines = ["dim n, w", "input X: matrix(n, w)", "input Y: matrix(n, w)"]
    lines += [f"param W{i}: matrix(w, w)" for i in range(1, layers + 1)]
    previous = "X"
    for i in range(1, layers + 1):
        if split:
            lines += [f"Z{i} = {previous} @ W{i}", f"H{i} = tanh(Z{i})"]
        else:
            lines.append(f"H{i} = tanh({previous} @ W{i})")
        previous = f"H{i}"
    lines += [f"J = mean(square({previous} - Y))", "objective J"]
    return "\n".join(lines) + "\n"


def chain_text(layers):
    """A tanh chain on one example vector: h_k = tanh(W_k h_(k-1)), J = sum(h_L)."""
    lines = ["dim n", "input x: vector(n)"]
    lines += [f"param W{i}: matrix(n, n)" for i in range(1, layers + 1)]
    previous = "x"
    for i in range(1, layers + 1):
        lines.append(f"h{i} = tanh(W{i} @ {previous})")
        previous = f"h{i}"
    lines += [f"J = sum({previous})", "objective J"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- 1. runtime

def hand_forward(X, Y, Ws):
    H = X
    for W in Ws:
        H = np.tanh(H @ W)
    E = H - Y
    return np.vdot(E, E) / E.size


def hand_value_and_grad(X, Y, Ws):
    """Textbook backprop for J = mean((H_L - Y)^2), H_k = tanh(H_(k-1) W_k), H_0 = X."""
    Hs = [X]
    for W in Ws:
        Hs.append(np.tanh(Hs[-1] @ W))
    E = Hs[-1] - Y
    J = np.vdot(E, E) / E.size
    G = (2.0 / E.size) * E                     # dJ/dH_L
    grads = [None] * len(Ws)
    for k in range(len(Ws), 0, -1):
        H = Hs[k]
        D = G * (1.0 - H * H)                  # dJ/dZ_k, tanh' = 1 - tanh^2 from the forward value
        grads[k - 1] = Hs[k - 1].T @ D         # dJ/dW_k
        if k > 1:
            G = D @ Ws[k - 1].T                # dJ/dH_(k-1)
    return J, grads


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def source_counts(source):
    body = source.split("def value_and_grad", 1)[1].split("\ndef ", 1)[0]
    code = "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))
    return code.count(" @ "), code.count("np.tanh(")


def bench_runtime(threads):
    section = "1 MLP 4x256, n=256"
    layers, n, w = 4, 256, 256
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, w))
    Y = rng.uniform(-0.9, 0.9, (n, w))
    Ws = [rng.standard_normal((w, w)) / np.sqrt(w) for _ in range(layers)]
    arrays = {"X": X, "Y": Y, **{f"W{i + 1}": W for i, W in enumerate(Ws)}}
    names = [f"W{i + 1}" for i in range(layers)]

    f = sbp.derive(sbp.parse(mlp_text(layers))).lambdify()
    f_split = sbp.derive(sbp.parse(mlp_text(layers, split=True))).lambdify()

    # correctness before timing
    J_hand, g_hand = hand_value_and_grad(X, Y, Ws)
    worst = 0.0
    for label, fn in (("inline", f), ("split", f_split)):
        J, g = fn(**arrays)
        err = max([rel(J, J_hand)] + [rel(g[m], g_hand[i]) for i, m in enumerate(names)])
        worst = max(worst, err)
        if err > 1e-10:
            raise AssertionError(f"symbackprop ({label}) and hand-written backprop differ: "
                                 f"relative error {err:.2e}")
    if rel(hand_forward(X, Y, Ws), J_hand) > 1e-12:
        raise AssertionError("forward pass and backprop disagree on J")
    print(f"  gradients: symbackprop == hand-written backprop, max rel. error {worst:.1e}",
          flush=True)

    candidates = {
        "symbackprop": lambda: f(**arrays),
        "symbackprop_split": lambda: f_split(**arrays),
        "hand": lambda: hand_value_and_grad(X, Y, Ws),
        "forward": lambda: hand_forward(X, Y, Ws),
    }
    try:
        import torch
    except ImportError as e:
        torch = None
        note(f"PyTorch not importable ({e}); its ratio is skipped")
    if torch is not None:
        torch.set_num_threads(threads)
        tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
        tWs = [torch.from_numpy(W.copy()).requires_grad_(True) for W in Ws]

        def torch_value_and_grad():
            H = tX
            for W in tWs:
                H = torch.tanh(H @ W)
            J = torch.mean((H - tY) ** 2)
            return J, torch.autograd.grad(J, tWs)

        J_t, g_t = torch_value_and_grad()
        err = max([rel(J_t.item(), J_hand)]
                  + [rel(g.numpy(), g_hand[i]) for i, g in enumerate(g_t)])
        if err > 1e-10:
            raise AssertionError(f"PyTorch and hand-written backprop differ: {err:.2e}")
        print(f"  gradients: PyTorch == hand-written backprop, max rel. error {err:.1e} "
              f"(torch {torch.__version__}, {torch.get_num_threads()} threads)", flush=True)
        candidates["torch"] = torch_value_and_grad

    t, spread, best, done, number = interleaved(candidates, budget=35.0)
    print(f"  medians of {done} interleaved repeats of {number} calls each:", flush=True)
    for name, s in t.items():
        print(f"  {name:18s} {s * 1e3:8.3f} ms/call   (spread, IQR/median: {spread[name]:.0%};"
              f" fastest repeat {best[name] * 1e3:.3f} ms)", flush=True)
    worst = max(spread.values())
    if worst > 0.15:
        note(f"section 1 timings are noisy (spread up to {worst:.0%}): other processes compete "
             "for the CPUs; rerun on a quiet machine before trusting the ratios")
    ratio = t["symbackprop"] / t["hand"]
    row(section, "symbackprop / hand-written backprop", f"{ratio:.2f}", "<= 1.15", ratio <= 1.15)
    row(section, "  same, fastest repeats (less hurt by other load)",
        f"{best['symbackprop'] / best['hand']:.2f}", "(info)")
    row(section, "  same, model with Z_k = H_(k-1) W_k named",
        f"{t['symbackprop_split'] / t['hand']:.2f}", "(info)")
    row(section, "hand-written backprop / forward", f"{t['hand'] / t['forward']:.2f}",
        "~3.7 (info)")
    if "torch" in t:
        row(section, "PyTorch autograd / hand-written", f"{t['torch'] / t['hand']:.2f}", "(info)")
        row(section, "symbackprop / PyTorch autograd", f"{t['symbackprop'] / t['torch']:.2f}",
            "(info)")
    row(section, "hand-written backprop, ms/call", f"{t['hand'] * 1e3:.2f}", "(info)")

    mm, th = source_counts(f.source)
    mm_s, th_s = source_counts(f_split.source)
    hand_mm, hand_th = 3 * layers - 1, layers
    note(f"value_and_grad has {mm} matmuls and {th} tanh calls (named-Z model: {mm_s} and "
         f"{th_s}); hand-written backprop has {hand_mm} and {hand_th}")
    return ratio


# --------------------------------------------------------------------------- 5. RNN, loops kept

def hand_rnn_forward(X, Y, H0, W_xh, W_hh, W_hq):
    H, J = H0, 0.0
    for t in range(len(X)):
        H = np.tanh(X[t] @ W_xh + H @ W_hh)
        E = H @ W_hq - Y[t]
        J += np.vdot(E, E) / E.size
    return J


def hand_rnn_value_and_grad(X, Y, H0, W_xh, W_hh, W_hq):
    """Textbook backpropagation through time for H_t = tanh(X_t W_xh + H_(t-1) W_hh),
    O_t = H_t W_hq, J = sum_t mean((O_t - Y_t)^2); X[t - 1] is X_t."""
    T = len(X)
    Hs, Es, J = [H0], [], 0.0
    for t in range(T):
        Hs.append(np.tanh(X[t] @ W_xh + Hs[-1] @ W_hh))
        E = Hs[-1] @ W_hq - Y[t]
        Es.append(E)
        J += np.vdot(E, E) / E.size
    g_xh, g_hh, g_hq = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros_like(W_hq)
    D = None                                   # dJ/dZ_(t+1), Z_t the pre-activation
    for t in range(T, 0, -1):
        G = (2.0 / Es[t - 1].size) * Es[t - 1]  # dJ/dO_t
        g_hq += Hs[t].T @ G
        dH = G @ W_hq.T                        # dJ/dH_t
        if D is not None:
            dH += D @ W_hh.T
        D = dH * (1.0 - Hs[t] * Hs[t])         # tanh' = 1 - tanh^2 from the forward value
        g_xh += X[t - 1].T @ D
        g_hh += Hs[t - 1].T @ D
    return J, (g_xh, g_hh, g_hq)


def bench_rnn(threads):
    # One thread for every candidate: a step's products (64 x 256 by 256 x 256) are small, and
    # a BLAS thread pool spinning on 2 cores makes each time hostage to any other process (10x
    # slower, by turns) while measuring nothing about the code; on one thread all three do the
    # same work, and the ratios compare the code.
    before = set_blas_threads(1)
    try:
        return _bench_rnn(1 if before is not None else threads)
    finally:
        if before is not None:
            set_blas_threads(before)


def _bench_rnn(threads):
    section = "5 RNN 256, n=64, T=100"
    print(f"  NumPy's BLAS and PyTorch on {threads} thread{'s' if threads > 1 else ''}",
          flush=True)
    T, n, d, h, q = 100, 64, 64, 256, 64
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((T, n, d)), rng.uniform(-0.9, 0.9, (T, n, q))
    H0 = np.zeros((n, h))
    W_xh = rng.standard_normal((d, h)) / np.sqrt(d)
    W_hh = rng.standard_normal((h, h)) / np.sqrt(h)
    W_hq = rng.standard_normal((h, q)) / np.sqrt(h)
    weights = (W_xh, W_hh, W_hq)
    arrays = {"X": X, "Y": Y, "H0": H0, "W_xh": W_xh, "W_hh": W_hh, "W_hq": W_hq}
    d_rnn = sbp.derive(sbp.load(os.path.join(ROOT, "examples", "loops", "rnn_tanh.sbp")))
    f = d_rnn.lambdify()
    flat = sbp.derive(d_rnn.model.unrolled({"T": 3})).lambdify().source
    print(f"  generated module: {len(f.source.splitlines())} lines for every T (written out at "
          f"T = 3: {len(flat.splitlines())} lines)", flush=True)

    J_hand, g_hand = hand_rnn_value_and_grad(X, Y, H0, *weights)
    J, g = f(**arrays)
    err = max([rel(J, J_hand)] + [rel(g[m], g_hand[i]) for i, m in
                                  enumerate(("W_xh", "W_hh", "W_hq"))])
    if err > 1e-10 or rel(hand_rnn_forward(X, Y, H0, *weights), J_hand) > 1e-12:
        raise AssertionError(f"symbackprop and hand-written BPTT differ: {err:.2e}")
    print(f"  gradients: symbackprop == hand-written BPTT, max rel. error {err:.1e}", flush=True)
    candidates = {
        "symbackprop": lambda: f(**arrays),
        "hand": lambda: hand_rnn_value_and_grad(X, Y, H0, *weights),
    }
    try:
        import torch
    except ImportError as e:
        torch = None
        note(f"PyTorch not importable ({e}); its RNN ratio is skipped")
    if torch is not None:
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        tX, tY, tH0 = (torch.from_numpy(a) for a in (X, Y, H0))
        tW = [torch.from_numpy(W.copy()).requires_grad_(True) for W in weights]

        def torch_value_and_grad():
            H, J = tH0, 0.0
            for t in range(T):
                H = torch.tanh(tX[t] @ tW[0] + H @ tW[1])
                J = J + torch.mean((H @ tW[2] - tY[t]) ** 2)
            return J, torch.autograd.grad(J, tW)

        J_t, g_t = torch_value_and_grad()
        err = max([rel(J_t.item(), J_hand)] + [rel(g.numpy(), g_hand[i])
                                               for i, g in enumerate(g_t)])
        if err > 1e-10:
            raise AssertionError(f"PyTorch and hand-written BPTT differ: {err:.2e}")
        candidates["torch"] = torch_value_and_grad

    t, spread, best, done, number = interleaved(candidates, budget=35.0)
    if torch is not None:
        torch.set_num_threads(torch_threads)
    print(f"  medians of {done} interleaved repeats of {number} calls each:", flush=True)
    for name, s in t.items():
        print(f"  {name:18s} {s * 1e3:8.3f} ms/call   (spread, IQR/median: {spread[name]:.0%};"
              f" fastest repeat {best[name] * 1e3:.3f} ms)", flush=True)
    if max(spread.values()) > 0.15:
        note(f"section 5 timings are noisy (spread up to {max(spread.values()):.0%}): other "
             "processes compete for the CPUs; rerun on a quiet machine before trusting the ratios")
    ratio = t["symbackprop"] / t["hand"]
    row(section, "symbackprop (looped) / hand-written BPTT", f"{ratio:.2f}", "<= 1.15",
        ratio <= 1.15)
    row(section, "  same, fastest repeats (less hurt by other load)",
        f"{best['symbackprop'] / best['hand']:.2f}", "(info)")
    if "torch" in t:
        row(section, "PyTorch autograd / hand-written BPTT", f"{t['torch'] / t['hand']:.2f}",
            "(info)")
        row(section, "symbackprop / PyTorch autograd", f"{t['symbackprop'] / t['torch']:.2f}",
            "(info)")
    row(section, "hand-written BPTT, ms/call", f"{t['hand'] * 1e3:.2f}", "(info)")
    mm, th = source_counts(f.source)
    note(f"the looped value_and_grad has {mm} matmuls and {th} tanh call in its source, for any "
         "T: 8 matmuls a step, as hand-written BPTT, and 3 more where the boundary t = T is "
         "written apart")
    return ratio


# --------------------------------------------------------------------------- 6. every example

def bench_every_example(threads):
    from every_example import bench_examples  # benchmarks/every_example.py, beside this script
    try:
        import torch  # noqa: F401
    except ImportError as e:
        note(f"PyTorch not importable ({e}); section 6 is skipped")
        return None
    before = set_blas_threads(1)  # one thread for NumPy and PyTorch alike, as in section 5
    try:
        return bench_examples(1 if before is not None else threads, interleaved, row, note)
    finally:
        if before is not None:
            set_blas_threads(before)


def bench_convolution(threads):
    from convolution import bench  # benchmarks/convolution.py, beside this script
    return bench(row, note, interleaved, rel)


# --------------------------------------------------------------------------- 2. derivation scaling

def derive_and_latex(model):
    d = sbp.derive(model)
    d.latex()
    return d


def bench_derivation(budget=95.0):
    section = "2 derive+latex"
    sizes = [64, 128, 256, 512, 1024]
    repeats = {64: 5, 128: 5, 256: 3, 512: 3, 1024: 3}
    deadline = time.perf_counter() + budget
    derive_and_latex(sbp.parse(mlp_text(4)))  # warm-up: lazy imports, printers
    times, cpu = {}, {}
    last = None
    for L in sizes:
        text = mlp_text(L)
        reps = repeats[L]
        if last is not None:
            def guess(size):  # pessimistic: a little worse than linear
                return times[last] * (size / last) ** 1.3
            rest = sum(guess(s) for s in sizes if s > L)  # one repeat of each larger size
            while reps > 1 and time.perf_counter() + guess(L) * reps + rest > deadline:
                reps -= 1
            if time.perf_counter() + guess(L) + rest > deadline:
                note(f"{L} layers skipped: about {guess(L):.1f} s more would exceed the "
                     f"{budget:.0f} s budget of this section")
                continue
        try:
            parts = {"derive": [], "latex": [], "cpu": []}

            def timed(model):
                c0 = time.process_time()
                t0 = time.perf_counter()
                d = sbp.derive(model)
                t1 = time.perf_counter()
                d.latex()
                t2 = time.perf_counter()
                parts["cpu"].append(time.process_time() - c0)
                parts["derive"].append(t1 - t0)
                parts["latex"].append(t2 - t1)

            times[L] = median_time(timed, reps, setup=lambda: sbp.parse(text))
            cpu[L] = statistics.median(parts["cpu"])
        except RecursionError as e:
            row(section, f"{L} layers", "RecursionError", "none", False)
            note(f"{L} layers: RecursionError: {e}")
            break
        last = L
        medians = {k: statistics.median(v) for k, v in parts.items()}
        print(f"  {L:5d} layers: {times[L]:7.3f} s  (derive {medians['derive']:.3f}"
              f", latex {medians['latex']:.3f}; CPU {medians['cpu']:.3f}"
              f"; median of {reps})", flush=True)
        if L == 64:
            row(section, "64 layers, s", f"{times[64]:.3f}", "<= 1 s", times[64] <= 1.0)
        else:
            row(section, f"{L} layers, s", f"{times[L]:.3f}", "(info)")
    if 1024 in times:
        row(section, "1024 layers: no RecursionError", "none", "none", True)
    elif not any(r[1] == "1024 layers" for r in ROWS):
        row(section, "1024 layers: no RecursionError", "not run (time)", "none")
    if len(times) >= 2:
        xs = [math.log(L) for L in times]
        ys = [math.log(times[L]) for L in times]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        lo, hi = min(times), max(times)
        ends = math.log(times[hi] / times[lo]) / math.log(hi / lo)
        row(section, f"log-log slope {lo}..{hi} layers (fit)", f"{slope:.2f}", "<= 1.2",
            slope <= 1.2)
        row(section, f"  slope, endpoints {lo} and {hi}", f"{ends:.2f}", "(info)")
        cpu_slope = math.log(cpu[hi] / cpu[lo]) / math.log(hi / lo)
        row(section, f"  slope of CPU time, endpoints {lo} and {hi}", f"{cpu_slope:.2f}",
            "(info: less hurt by other load)")
        a, b = sorted(times)[-2:]
        if a != lo:
            local = math.log(times[b] / times[a]) / math.log(b / a)
            row(section, f"  slope, last step {a} to {b}", f"{local:.2f}", "(info)")
    return times


# --------------------------------------------------------------------------- 3. expression size

class _Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds):
    if not hasattr(signal, "setitimer"):
        yield
        return

    def handler(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def naive_ops(layers, width=3):
    """count_ops of sympy.diff of the explicit objective of a width-3 tanh chain, by W1[0, 0]."""
    x = sp.Matrix(width, 1, lambda i, j: sp.Symbol(f"x{i}", real=True))
    Ws = [sp.Matrix(width, width, lambda i, j, k=k: sp.Symbol(f"W{k}_{i}{j}", real=True))
          for k in range(1, layers + 1)]
    h = x
    for W in Ws:
        h = (W * h).applyfunc(sp.tanh)
    J = sum(h)
    t = time.perf_counter()
    g = sp.diff(J, Ws[0][0, 0])
    ops = sp.count_ops(g)
    return ops, time.perf_counter() - t


def bench_size(max_depth=6, limit=10.0):
    section = "3 expression size"
    print(f"  {'depth':>5s} {'max adjoint ops':>16s} {'subst. dJ/dW1 ops':>18s} "
          f"{'naive diff ops':>15s} {'naive s':>8s}", flush=True)
    adj, naive = {}, {}
    stopped = None
    for L in range(1, max_depth + 1):
        d = sbp.derive(sbp.parse(chain_text(L)))
        adj[L] = max(sp.count_ops(s.result) for s in d.steps)
        full = sp.count_ops(d.gradient("W1"))
        cell, secs = "", ""
        if stopped is None:
            try:
                with time_limit(limit):
                    naive[L], took = naive_ops(L)
                cell, secs = str(naive[L]), f"{took:.2f}"
                if took > limit:
                    stopped = L
            except _Timeout:
                stopped = L
                cell, secs = "stopped", f">{limit:.0f}"
        else:
            cell, secs = "-", "-"
        print(f"  {L:5d} {adj[L]:16d} {full:18d} {cell:>15s} {secs:>8s}", flush=True)
    if stopped is not None:
        note(f"naive sympy.diff stopped at depth {stopped}: it took more than {limit:.0f} s")
    bounded = max(adj.values()) <= max(adj[min(2, max_depth)], adj[1])
    row(section, f"max adjoint count_ops, depth 1..{max_depth}",
        " ".join(str(adj[L]) for L in sorted(adj)), "bounded", bounded)
    row(section, "naive sympy.diff count_ops",
        " ".join(str(naive[L]) for L in sorted(naive)), "(info)")
    deep = sorted(naive)
    if len(deep) >= 3:
        growth = (naive[deep[-1]] / naive[deep[1]]) ** (1 / (deep[-1] - deep[1]))
        row(section, f"naive growth per layer, depth {deep[1]}..{deep[-1]}", f"{growth:.2f}x",
            "~4x (info)")


# --------------------------------------------------------------------------- 4. lambdify

def bench_lambdify():
    section = "4 lambdify"
    text = mlp_text(64)
    sbp.derive(sbp.parse(mlp_text(4))).lambdify()  # warm-up
    t = median_time(lambda d: d.lambdify(), 5, setup=lambda: sbp.derive(sbp.parse(text)))
    row(section, "lambdify of 64 layers, s", f"{t:.3f}", "<= 1 s", t <= 1.0)
    clear_cache()
    t0 = time.perf_counter()
    sbp.derive(sbp.parse(text)).lambdify()
    whole = time.perf_counter() - t0
    row(section, "  parse + derive + lambdify, s", f"{whole:.3f}", "(info)")
    print(f"  lambdify {t:.3f} s; parse + derive + lambdify {whole:.3f} s", flush=True)
    return t


# --------------------------------------------------------------------------- profiles

def profile(label, fn, top=12):
    import cProfile
    import io
    import pstats
    clear_cache()
    pr = cProfile.Profile()
    pr.enable()
    fn()
    pr.disable()
    out = io.StringIO()
    stats = pstats.Stats(pr, stream=out)
    stats.sort_stats("cumulative").print_stats(r"symbackprop", top)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\n--- cProfile: {label} ---")
    text = out.getvalue()
    text = re.sub(r"^.*?(?=\s+ncalls)", "", text, count=1, flags=re.S)
    print(re.sub(r"\n{3,}", "\n\n", text.replace(ROOT + os.sep, "")).strip("\n"))


def profile_generated(layers=4, n=256, w=256, repeats=7, top=8):
    """Time each statement of the generated value_and_grad (cProfile cannot see ufuncs and @)."""
    rng = np.random.default_rng(0)
    env = {"np": np, "X": rng.standard_normal((n, w)), "Y": rng.uniform(-0.9, 0.9, (n, w)),
           "n_n": n, "n_w": w}
    for i in range(1, layers + 1):
        env[f"W{i}"] = rng.standard_normal((w, w)) / np.sqrt(w)
    source = sbp.derive(sbp.parse(mlp_text(layers))).lambdify().source
    body = source.split("def value_and_grad", 1)[1].split("\ndef ", 1)[0].splitlines()[1:]
    lines = [ln.strip() for ln in body
             if ln.strip() and not ln.strip().startswith(("#", "return"))]
    code = [compile(ln, "<generated>", "exec") for ln in lines]
    samples = [[] for _ in lines]
    for r in range(repeats + 1):
        for i, c in enumerate(code):
            t = time.perf_counter()
            exec(c, env)
            if r:  # the first sweep warms up
                samples[i].append(time.perf_counter() - t)
    med = [statistics.median(x) for x in samples]
    total = sum(med)
    print(f"\n--- time per statement of the generated value_and_grad, {layers}-layer MLP "
          f"(total {total * 1e3:.1f} ms) ---")
    for i in sorted(range(len(lines)), key=lambda i: -med[i])[:top]:
        text = lines[i] if len(lines[i]) <= 100 else lines[i][:97] + "..."
        print(f"  {med[i] * 1e3:7.2f} ms {med[i] / total:5.0%}  {text}")


# --------------------------------------------------------------------------- main

def load_average():
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "?"


def git_state():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "symbackprop"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        changes = " + uncommitted changes in symbackprop/" if dirty else ""
        return f"{head}{changes}" if head else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# ----------------------------------------------------------- 7. loops: derived once

def bench_derived_once(budget=60.0):
    """derive + LaTeX of a model with loops, in general, beside the model written out."""
    name = "7 loops derived once"
    deadline = time.perf_counter() + budget
    for stem, length in (("bptt", "T"), ("mlp_layers", "L")):
        path = os.path.join(ROOT, "examples", "loops", f"{stem}.sbp")
        derive_and_latex(sbp.load(path))  # warm-up
        general = median_time(derive_and_latex, 5, setup=lambda path=path: sbp.load(path))
        print(f"  {stem}: in general {general:.3f} s", flush=True)
        row(name, f"{stem}: derive + LaTeX in general, s", f"{general:.3f}", "<= 1 s",
            general <= 1.0)
        for k in (4, 16, 64):
            if time.perf_counter() > deadline:
                note(f"{stem} written out at {length} = {k} skipped: the section's "
                     f"{budget:.0f} s budget is spent")
                break
            model = sbp.load(path)
            written = median_time(derive_and_latex,
                                  3, setup=lambda model=model, k=k: model.unrolled({length: k}))
            print(f"  {stem}: written out at {length} = {k}: {written:.3f} s", flush=True)
            row(name, f"  written out at {length} = {k} / in general", f"{written / general:.1f}",
                "(info)")


# ------------------------------------------------------------------------ 8. start-up

def process_times(command, runs):
    """Median (CPU seconds, wall seconds) of `runs` fresh processes running `command`;
    the CPU time counts the process and every child it waited for."""
    import resource
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cpu, wall = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def bench_startup(runs=7):
    """Whole-process times of the command line, beside Python's and SymPy's own start-up."""
    name = "8 start-up"
    python = [sys.executable]
    cases = [("python -c pass", python + ["-c", "pass"], None),
             ("python: import sympy, networkx", python + ["-c", "import sympy, networkx"], None),
             ("symbackprop --version", python + ["-m", "symbackprop", "--version"], 0.15),
             ("symbackprop --help", python + ["-m", "symbackprop", "--help"], 0.15),
             ("symbackprop derive examples/textbook_mlp.sbp",
              python + ["-m", "symbackprop", "derive", "examples/textbook_mlp.sbp"], 0.5)]
    floor = None
    for what, command, target in cases:
        process_times(command, 1)  # warm-up: the files in the page cache, bytecode written
        cpu, wall = process_times(command, runs)
        floor = cpu if "sympy" in what else floor
        print(f"  {what}: CPU {cpu:.3f} s, wall {wall:.3f} s (median of {runs})", flush=True)
        row(name, f"{what}: CPU s (wall {wall:.2f})", f"{cpu:.3f}",
            "(info)" if target is None else f"<= {target:g} s",
            None if target is None else cpu <= target)
    # the ratio reads alike on a loaded machine, whose CPU times all grow
    row(name, "  derive / import sympy, networkx (CPU)", f"{cpu / floor:.2f}", "(info)")


def section(title, fn, *args):
    print(f"\n{title}", flush=True)
    t = time.perf_counter()
    try:
        return fn(*args)
    except Exception as e:  # report and go on: one broken section must not hide the others
        name = title.split(".")[0]
        row(name, title, f"ERROR {type(e).__name__}", "", False)
        note(f"{title}: {type(e).__name__}: {e}")
        return None
    finally:
        print(f"  ({time.perf_counter() - t:.1f} s)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true",
                        help="after the table, profile the workloads that MISS: time per "
                             "generated statement (1), cProfile (2, 4)")
    parser.add_argument("--examples-only", action="store_true",
                        help="run section 6 alone (every example against PyTorch and by hand)")
    parser.add_argument("--startup-only", action="store_true",
                        help="run section 8 alone (whole-process times of the command line)")
    parser.add_argument("--conv-only", action="store_true",
                        help="run section 9 alone (a convolutional layer against PyTorch and "
                             "by hand)")
    args = parser.parse_args()

    threads, source = blas_threads()
    print(f"symbackprop {getattr(sbp, '__version__', '?')} from {ROOT} (git {git_state()})")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, SymPy {sp.__version__}, "
          f"{os.cpu_count()} CPUs, BLAS threads {threads} ({source}), "
          f"load average {load_average()}")

    times = None
    only = args.startup_only or args.conv_only
    if args.startup_only:
        section("8. Start-up: whole-process times of the command line", bench_startup)
    elif not (args.examples_only or only):
        section("1. Runtime: value and gradients, 4-layer tanh MLP, float64", bench_runtime,
                threads)
        times = section("2. Derivation + LaTeX of deep MLPs", bench_derivation)
        section("3. Expression size, width-3 tanh chain", bench_size)
        section("4. Code generation: lambdify of a 64-layer MLP", bench_lambdify)
    if not (args.examples_only or only):
        section("5. Runtime: value and gradients, tanh RNN with loops kept, float64", bench_rnn,
                threads)
    if not only:
        section("6. Runtime: every example, large and small, against PyTorch and by hand",
                bench_every_example, threads)
    if not (args.examples_only or only):
        section("7. Derivation + LaTeX of models with loops: once, for every length",
                bench_derived_once)
        section("8. Start-up: whole-process times of the command line", bench_startup)
    if args.conv_only or not (args.examples_only or only):
        section("9. Runtime: a LeNet-style convolutional layer, batch 64, float64",
                bench_convolution, threads)

    widths = [max(len(str(r[i])) for r in ROWS + [("section", "measurement", "value", "target",
                                                     "status")]) for i in range(5)]
    header = ("section", "measurement", "value", "target", "status")
    line = "  ".join("-" * w for w in widths)
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print(line)
    for r in ROWS:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print(line)
    judged = [r for r in ROWS if r[4]]
    passed = sum(r[4] == "PASS" for r in judged)
    print(f"{passed}/{len(judged)} targets met; total {elapsed():.0f} s; "
          f"load average now {load_average()} (other processes make absolute times noisy)")
    if NOTES:
        print("notes:")
        for n in NOTES:
            print("  - " + n)

    if args.profile:
        missed = {r[0] for r in ROWS if r[4] == "MISS"}
        if any(m.startswith("1") for m in missed):
            profile_generated()
        if any(m.startswith("2") for m in missed):
            L = max(times) if times else 256
            model = sbp.parse(mlp_text(L))
            profile(f"derive + latex, {L} layers", lambda: derive_and_latex(model))
        if any(m.startswith("4") for m in missed):
            d = sbp.derive(sbp.parse(mlp_text(64)))
            profile("lambdify, 64 layers", lambda: d.lambdify())
    return 0 if passed == len(judged) else 1


if __name__ == "__main__":
    sys.exit(main())
