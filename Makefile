# flexcell: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test lint typecheck pytest bench clean cad

setup:
	@bash scripts/setup.sh

demo: setup
	@$(VENV)/bin/flexcell demo

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck: setup
	@$(VENV)/bin/mypy cell_config motion workflow_gen sim flexcell ros_ws/src/flexcell_ros/flexcell_ros

pytest: setup
	@bash scripts/run_pytest.sh

test: lint typecheck pytest

bench: setup
	@$(VENV)/bin/flexcell bench motion --json
	@$(VENV)/bin/flexcell bench plan --json
	@$(VENV)/bin/flexcell bench sim --json

cad: setup
	@$(PY) cad_parts/make_examples.py

clean:
	rm -rf build
