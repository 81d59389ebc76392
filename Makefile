# kubelite: `make up` gives a running local cluster with a demo workload, `make test` runs every test.
PYTHON ?= python3
KLITE = $(PYTHON) -m cli

.PHONY: up down test unit e2e lint setup setup-test images bench

up: setup
	$(KLITE) up
	$(KLITE) apply -f deploy/demo.yaml
	$(PYTHON) deploy/wait_running.py default demo 60
	@echo
	@echo "The demo pod runs a web server. Look at it with:"
	@echo "  klite get pods -o wide          # its IP and node"
	@echo "  klite describe pod demo"
	@echo "  curl http://POD_IP/             # the IP printed above"
	@echo "  docker ps --filter label=io.kubelite.pod.name=demo"
	@echo "Stop everything with: make down"

down:
	$(KLITE) down

test: setup-test
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

unit:
	$(PYTHON) -m pytest -q tests/unit

e2e: setup-test
	$(PYTHON) -m pytest -q tests/e2e

lint:
	$(PYTHON) -m ruff check .

setup:
	bash deploy/setup.sh

setup-test:
	bash deploy/setup.sh --test

images:
	bash deploy/images.sh

bench: setup-test
	$(PYTHON) bench/pod_startup.py --pods 20
