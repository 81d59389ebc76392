# kubelite: `make up` gives a running local cluster with a demo workload, `make test` runs every test.
PYTHON ?= python3
KLITE = $(PYTHON) -m cli

.PHONY: up down test unit e2e lint setup setup-test images bench fuzz faults profile

up: setup
	$(KLITE) up
	$(KLITE) apply -f deploy/demo.yaml
	@out=$$($(PYTHON) deploy/wait_running.py default demo 90) || exit 1; echo "$$out"; ip=$${out##* at }; \
	echo; \
	echo "The demo is a Deployment of 3 web servers behind the Service 'demo'; each pod answers with its name."; \
	echo "Open it (several times: the pods take turns), from this machine or from any pod:"; \
	echo "  curl http://$$ip/"; \
	echo "Look at it with:"; \
	echo "  klite get deployments,pods,services,endpoints -o wide"; \
	echo "  busybox nslookup demo.default.svc.cluster.local 10.96.0.10   # the cluster DNS"; \
	echo "  sed 's/replicas: 3/replicas: 1/' deploy/demo.yaml | klite apply -f -   # then curl again: one name"; \
	echo "Stop everything with: make down"

down:
	$(KLITE) down

test: setup-test
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

unit:
	$(PYTHON) -m pytest -q tests/unit

e2e: setup-test
	$(PYTHON) -m pytest -q tests/e2e

# The long fuzz run (about 20,000 requests, half an hour): `make test` runs the same suite with CI's small bounds.
fuzz: setup-test
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/fuzz --fuzz-full

# The long fault run (10 replicas, every daemon killed in 3 rounds): `make test` runs tests/faults with CI's bounds.
faults: setup-test
	$(PYTHON) -m pytest -q -p no:cacheprovider -s tests/faults --faults-full

lint: setup-test
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

setup:
	bash deploy/setup.sh

setup-test:
	bash deploy/setup.sh --test

images:
	bash deploy/images.sh

bench: setup-test
	$(PYTHON) bench/pod_startup.py --pods 20

# py-spy flame graphs of the apiserver under bench/api.py, secured and --insecure, one per phase (as root):
# profile/PHASE.svg, PHASE.top.txt (top frames, self and total), PHASE.txt (collapsed stacks).
profile: setup-test
	$(PYTHON) bench/api.py --watchers 50 --watch-events 20 --objects 2000 --profile profile
