# The two commands of the README: `make demo` and `make test`. Everything they need, they install.
PY ?= python3
LS_VENV ?= .ls-venv
LS_VERSION ?= 1.23.2
MODEL_DIR ?= models/annotate-minilm
export HF_HUB_OFFLINE = 1
export TOKENIZERS_PARALLELISM = false

.PHONY: setup setup-test studio-server browser demo model test test-fast probes bench

# torch first and pinned: the CPU wheel of 2.13.0 is on the machine; other specs pull CUDA builds.
setup:
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"

# Label Studio runs in its own virtual environment; the project itself needs only label-studio-sdk.
studio-server:
	test -x $(LS_VENV)/bin/label-studio || ($(PY) -m venv $(LS_VENV) && $(LS_VENV)/bin/pip install -q label-studio==$(LS_VERSION))

# Debian's Chromium and ChromeDriver for the report's browser test (root and apt only; skipped otherwise).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium/chromedriver missing: browser tests will skip"; fi

setup-test: setup studio-server browser

# Train the default model when none is there, then score the sample corpus.
model:
	@test -f $(MODEL_DIR)/model.safetensors || annotate train --config configs/train.yaml

demo: setup model
	rm -rf runs/demo
	annotate score corpus/ --out runs/demo

test: setup-test
	$(PY) -m pytest -q -rs

# Without the Label Studio server, browser and slow training tests.
test-fast:
	$(PY) -m pytest -q -m "not studio and not browser and not slow"

# Behavioural probes (../shared/spec/probes.jsonl and tests/behaviour/probes.jsonl), model and rules.
probes: setup
	annotate evaluate --probes --model $(MODEL_DIR) --min-pass-rate 0.95

bench: setup
	annotate bench
