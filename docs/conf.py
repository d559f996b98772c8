"""Sphinx configuration of the crowdcensus documentation site (`make docs`).

Pages are Markdown read by MyST-Parser; the API reference comes from the numpydoc
docstrings through autodoc + numpydoc. `make docs` builds with ``-W --keep-going``:
every warning fails the build (the test suite runs it, see docs/contributing.md).
"""

from __future__ import annotations

import crowdcensus

project = "crowdcensus"
author = "the crowdcensus contributors"
copyright = "the crowdcensus contributors (MIT licence)"
release = version = crowdcensus.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "validation/*.csv"]

# Markdown: GitHub-style anchors on h1-h4, so that `page.md#section` links work the
# same on GitHub and on the site; `$...$` math; `:::` fences for admonitions.
myst_heading_anchors = 4
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]

# API reference: numpydoc sections; members listed by autodoc, not by numpydoc.
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "show-inheritance": True}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

html_theme = "furo"
html_title = f"crowdcensus {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


def setup(app):
    """Show ``csv`` blocks (sample files) as plain text: Pygments has no CSV lexer."""
    from pygments.lexers.special import TextLexer
    from sphinx.highlighting import lexers

    lexers["csv"] = TextLexer()
