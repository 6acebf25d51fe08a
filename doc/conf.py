"""Sphinx configuration for the msgframework documentation."""

project = "msgframework"
author = "msgframework developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode"]
source_suffix = {".rst": "restructuredtext"}
master_doc = "index"
exclude_patterns = ["build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
