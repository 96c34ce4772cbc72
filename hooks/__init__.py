"""MkDocs hooks of the site: build-time math, the probability chart, notebook links, offline notebooks."""
