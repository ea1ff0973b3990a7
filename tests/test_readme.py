"""The README shows what the tool does: its listings are the example file and real output."""

from pathlib import Path

import symbackprop as sbp

README = Path("README.md").read_text(encoding="utf-8")


def test_readme_lists_the_example_file_verbatim():
    assert Path("examples/textbook_mlp.sbp").read_text(encoding="utf-8") in README


def test_readme_backward_block_is_the_derive_output():
    output = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).text()
    backward = output[output.index("Backward"):output.index("\n\nGradients")]
    assert backward in README
