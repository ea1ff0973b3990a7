"""examples/textbook.ipynb runs from top to bottom in a real Jupyter kernel.

The kernel is the ``python3`` kernel of the running interpreter (in CI, the virtual
environment's), which the test confirms.  Any error in a cell fails the test.  The outputs
stored in the notebook, which a reader sees without running it, must be what a run gives.
In CI (SYMBACKPROP_CI=1) nothing is skipped; elsewhere the test skips, with the reason, when
the notebook tools or Graphviz are missing.
"""

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "textbook.ipynb"
CI = bool(os.environ.get("SYMBACKPROP_CI"))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    missing = [m for m in ("nbclient", "nbformat", "ipykernel")
               if importlib.util.find_spec(m) is None]
    if shutil.which("dot") is None:
        missing.append("Graphviz's dot")
    if missing and not CI:
        pytest.skip(f"the notebook needs {', '.join(missing)}: pip install '.[test]' "
                    "(and apt-get install graphviz)")
    assert not missing, f"CI must run the notebook; missing: {missing}"
    import nbformat
    from nbclient import NotebookClient

    stored = nbformat.read(NOTEBOOK, as_version=4)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    probe = nbformat.v4.new_code_cell("import sys, symbackprop\n"
                                      "print(sys.prefix)\nprint(symbackprop.__file__)")
    nb.cells.append(probe)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    old = dict(os.environ)
    os.environ.update(env)  # the kernel imports this checkout's symbackprop
    try:
        client.execute()  # raises CellExecutionError on any error in a cell
    finally:
        os.environ.clear()
        os.environ.update(old)
    nb.cells.pop()
    return stored, nb, probe


def test_the_kernel_is_this_python(executed):
    _, _, probe = executed
    prefix, module = probe.outputs[0]["text"].split("\n")[:2]
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()
    assert Path(module).is_file()


def test_the_notebook_shows_the_derivation_the_graphs_and_the_checks(executed):
    _, nb, _ = executed
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    markdown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    svgs = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in outputs)
    assert any("\\begin{aligned}" in m and "\\phi'" in m for m in markdown)  # rendered math
    assert len(svgs) == 2 and all("<svg" in s for s in svgs)  # the graph and the backward graph
    assert "passed" in text and "proved" in text
    assert text.count("agrees with the hand-written gradient: True") == 2


def _comparable(nb):
    """Each code cell's outputs without what may differ between machines."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        out = []
        for o in cell.outputs:
            data = {k: v for k, v in o.get("data", {}).items() if k != "image/svg+xml"}
            text = o.get("text", "")
            # finite-difference errors vary in their last digits with the BLAS
            out.append((o["output_type"], sorted(o.get("data", {})),
                        re.sub(r"\d\.\d\de-\d\d", "#", text + str(sorted(data.items())))))
        cells.append((cell.source, out))
    return cells


def test_the_stored_outputs_are_what_a_run_gives(executed):
    stored, nb, _ = executed
    assert _comparable(stored) == _comparable(nb), \
        "rerun the notebook and save it: examples/textbook.ipynb"
