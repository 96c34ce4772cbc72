# Two entry points, both safe to run on a fresh machine: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: serve build test chromium notebooks figures fetch-checkpoints update-outputs verify benchmark

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files make a second `make` skip pip when the requirements did not change.
$(VENV)/.site-installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt | $(PY)
	$(PIP) install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.site-installed

serve: $(VENV)/.site-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# MkDocs writes pages straight into the site dir and a failed strict build leaves them there, looking
# complete: build into SITE_DIR.partial and move it into place only when the build succeeded.
SITE_DIR ?= site
build: $(VENV)/.site-installed
	@rm -rf "$(SITE_DIR).partial"
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir "$(SITE_DIR).partial" \
	  || { rm -rf "$(SITE_DIR).partial"; echo "Strict build failed: $(SITE_DIR)/ left as it was." >&2; exit 1; }
	rm -rf "$(SITE_DIR)" && mv "$(SITE_DIR).partial" "$(SITE_DIR)"

# Chromium comes from Debian (Playwright's own browser download cannot work offline).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Chromium: sudo apt-get install chromium"; fi; }

test: $(VENV)/.test-installed chromium
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/pytest

notebooks: $(VENV)/.test-installed
	$(PY) -m harness notebooks

# Figures that pages compute: each is written by its page's own code, run from includes/figures/.
figures: $(VENV)/.test-installed
	cd includes/figures && HF_HUB_OFFLINE=1 ../../$(PY) ../../snippets/transformer-models/attention.py

update-outputs: $(VENV)/.test-installed
	$(VENV)/bin/pytest docs README.md --update-outputs

# Runs every page's code and writes the committed record the site shows beside each output
# (tests/test_verification_record.py fails when it no longer matches a fresh run).
verify: $(VENV)/.test-installed
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest docs -p no:cacheprovider --verification-report verification.json

fetch-checkpoints: $(VENV)/.test-installed
	$(PY) -m harness fetch

benchmark: $(VENV)/.test-installed
	$(PY) -m benchmarks
