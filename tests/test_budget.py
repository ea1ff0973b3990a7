"""Every command within a budget: a result, or a message naming the limit, never a hang.

Run as the program, a command works in a child process stopped after --time-limit
seconds or beyond --memory-limit GiB (600 s and 8 GiB by default), with exit status 2 and
no traceback; proofs it forks die with it.  From Python, ``main(argv)`` runs in the
caller's process, bounded only by the limits `argv` gives.  The models here are legal and
hostile: each would run for minutes or take all the machine's memory without a limit.
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_deep import deep_mlp, nested_tanh

from symbackprop import cli

#: Repeated squaring: verify expands a polynomial of degree 512 (minutes, then memory).
SQUARING = "param a0: scalar\n" + "".join(f"a{k} = a{k - 1} * a{k - 1} + a{k - 1}\n"
                                          for k in range(1, 10)) + "objective a9\n"
#: A product of 30000 x 30000 matrices of finite differences (gigabytes) once raised past
#: the entry limit.
WIDE = ("dim n\nparam W: matrix(n, n)\ninput x: vector(n)\nJ = sum(tanh(W @ x))\n"
        "objective J\n")


def program(*argv, cwd, memory=None, timeout=120):
    """``python -m symbackprop ARGV`` as a user runs it: (status, stderr, seconds taken)."""
    def cap():  # as `ulimit -v` does, for the whole program (the budget's child included)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "symbackprop", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=cap if memory else None)
    return done.returncode, done.stderr, time.monotonic() - start


def _processes_reading(path):
    """The processes whose command line names `path` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(path).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_time_limit_stops_a_command_and_the_proofs_it_forked(tmp_path):
    model = tmp_path / "squaring.sbp"
    model.write_text(SQUARING, encoding="utf-8")
    status, err, seconds = program("verify", model, "--timeout", "300", "--time-limit", "4",
                                   cwd=tmp_path)
    assert status == 2, err
    assert err == (f"symbackprop: error: verify {model}: stopped after 4 s, its time limit "
                   "(--time-limit); nothing was written\n")
    assert seconds < 100  # the limit held: without it, minutes (not a measure of speed)
    time.sleep(0.5)
    assert _processes_reading(model) == []  # the forked proofs were stopped too


def test_the_memory_limit_stops_a_command_with_a_message(tmp_path):
    model = tmp_path / "wide.sbp"
    model.write_text(WIDE, encoding="utf-8")
    status, err, _ = program("check", model, "--dims", "n=30000", "--max-entries", "10000000000",
                             "--memory-limit", "1.5", cwd=tmp_path)
    assert status == 2 and "Traceback" not in err, err
    assert err == f"symbackprop: error: check ran out of memory on {model} (try smaller --dims)\n"


#: Legal models that once hung, ran out of memory or crashed a command.
HOSTILE = {
    "squaring": SQUARING,
    "nested": nested_tanh(48).replace("input x", "param x"),
    "product": "param x: scalar\nJ = " + " * ".join(["x"] * 2000) + "\nobjective J\n",
    "huge": "param w: vector(99999999)\nJ = sum(tanh(w))\nobjective J\n",
    "deep": deep_mlp(64),
    "power": "param x: scalar\nJ = x * 10 ^ 1e300\nobjective J\n",
}


@pytest.mark.parametrize("command", ["derive", "graph", "check", "verify", "memory", "codegen",
                                     "hvp", "hessian"])
def test_under_ulimit_every_command_answers_every_hostile_model(tmp_path, command):
    # `ulimit -v 3 GiB` on the whole program, the default budget inside it lowered to 8 s.
    # Once every command failed at once under it, saying it needed more than 8 GiB: the
    # budget asked for its default 8 GiB, more than the shell allowed, and was refused.
    for name, text in HOSTILE.items():
        model = tmp_path / f"{name}.sbp"
        model.write_text(text, encoding="utf-8")
        status, err, _ = program(command, model, "--time-limit", "8", cwd=tmp_path,
                                 memory=3 * 2**30)
        assert "Traceback" not in err and "memory" not in err, (name, err)
        # a result, or a message: the time limit, a refused size, a refused figure
        assert status in (0, 1) or status == 2 and err.count("error:") == 1, (name, err)
        if command in ("derive", "codegen", "memory"):  # seconds, well within the budget
            assert status == 0 or name == "power", (name, err)


def test_a_memory_limit_above_the_shells_is_the_shells(capsys, monkeypatch):
    from symbackprop.cli import budget
    from symbackprop.proofs.forked import address_space_limit
    assert address_space_limit(2**20) == 2**20
    asked = []
    monkeypatch.setattr(budget, "run_bounded", lambda *a, memory: asked.append(memory))
    monkeypatch.setattr(budget, "address_space_limit", lambda memory: min(memory, 2 * 2**30))
    args = argparse.Namespace(command="check", model="wide.sbp")
    assert budget.run_within(None, args, 600.0, 8.0) == 2 and asked == [8 * 2**30]
    assert capsys.readouterr().err == (
        "symbackprop: error: check wide.sbp: stopped, it needed more than 2 GiB, the memory "
        "this shell allows (ulimit -v); nothing was written\n")
    assert budget.run_within(None, args, 600.0, 1.5) == 2
    assert "more than 1.5 GiB, its memory limit (--memory-limit)" in capsys.readouterr().err


def test_the_program_has_a_budget_by_default_and_python_callers_choose(tmp_path, monkeypatch,
                                                                         capfd):
    model = tmp_path / "squaring.sbp"
    model.write_text(SQUARING, encoding="utf-8")
    # as the program (no argv: sys.argv is read), the default limit applies
    monkeypatch.setattr(cli, "TIME_LIMIT", 2.0)
    monkeypatch.setattr(sys, "argv", ["symbackprop", "verify", str(model), "--timeout", "300"])
    assert cli.main() == 2
    assert "stopped after 2 s, its time limit" in capfd.readouterr().err
    # from Python, in this process, unbounded unless asked
    def forked(*args, **kwargs):
        raise AssertionError("main(argv) forked without a limit in argv")
    monkeypatch.setattr(cli, "run_within", forked)
    assert cli.main(["derive", str(model)]) == 0
    out, err = capfd.readouterr()
    assert out.startswith("Forward") and err == ""
