# dida's commands. The README's two: `make demo` (the main job) and `make test` (every test).
# Both run `make deps` first, which installs what is missing and does nothing otherwise.
SHELL := /bin/bash
JOBS ?= 2
PORT ?= 8080
BUILD_TYPE ?= Release
NATIVE_DIR := build/native
WASM_DIR := build/wasm
SITE_DIR := $(WASM_DIR)/site

# emcc needs acorn & co. from Debian's node modules.
export NODE_PATH := /usr/share/nodejs
# The tests run several processes on the cores at once: there OpenMP's idle threads must sleep, not
# spin on a core another test needs. A training alone (make demo, models, bench) keeps OpenMP's
# default, spinning: its 2 threads train 1.6-1.7x faster than sleeping ones (docs/BENCHMARKS.md).
test test-native test-wasm test-browser test-fuzz fuzz asan: export OMP_WAIT_POLICY := passive

.PHONY: help deps native wasm site train-demo models build test test-native test-wasm test-browser test-fuzz demo serve asan fuzz fuzz-build bench clean

help:
	@echo "make demo          set up, build, train the default model (once) and serve the demo on http://127.0.0.1:$(PORT)"
	@echo "                   RETRAIN=1 trains again, PORT=N serves elsewhere"
	@echo "make test          set up, build both builds and run every test (ctest, then node --test)"
	@echo "make deps          install what is missing (Debian and npm packages, ImGui sources, data)"
	@echo "make native|wasm   build one of the two builds (build/native, build/wasm)"
	@echo "make serve         serve the built site without rebuilding"
	@echo "make asan          build and run the core tests under AddressSanitizer (build/asan)"
	@echo "make fuzz          build the libFuzzer targets (clang, ASan) and run each FUZZ_SECONDS (60) (build/fuzz)"
	@echo "make bench         mnist -> mnistm: source-only, dann, dida (and dsn in the default) x 3 seeds, default and small configuration"
	@echo "make models        retrain every shipped bundle in models/ with its card (about 10 min)"
	@echo "make clean         remove build/"

deps:
	@bash scripts/setup.sh

native: deps
	@cmake -S . -B $(NATIVE_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build $(NATIVE_DIR) -j$(JOBS)

wasm: deps
	@emcmake cmake -S . -B $(WASM_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build $(WASM_DIR) -j$(JOBS)

# The site: the web app plus the shipped models (models/), their sample sets and ONNX Runtime Web,
# and the model `make demo` trained, when there is one (listed first in the page's picker).
DEMO_RUN ?= runs/demo
DEMO_BUNDLE := $(DEMO_RUN)/bundle
site: native wasm
	@node scripts/build_site.mjs --site $(SITE_DIR) --dida $(NATIVE_DIR)/bin/dida --models models \
	  $(if $(wildcard $(DEMO_BUNDLE)/model.onnx),--demo $(DEMO_BUNDLE))

# The default model: mnist -> mnistm, dida, the small configuration (configs/small.toml). Trained
# once; `make demo RETRAIN=1` trains again. An interrupted training resumes from its checkpoint.
# DIDA_DEMO_TRAIN_FLAGS adds flags (the end-to-end test gives a tiny budget this way).
RETRAIN ?= 0
DIDA_DEMO_TRAIN_FLAGS ?=
train-demo: native
	@if [ "$(RETRAIN)" = 1 ]; then rm -rf $(DEMO_RUN); fi
	@if [ -f $(DEMO_BUNDLE)/model.onnx ]; then \
	  echo "demo: using the model trained before in $(DEMO_RUN) (make demo RETRAIN=1 trains again)"; \
	  { [ -f $(DEMO_BUNDLE)/decoder.onnx ] && grep -q '"format_version": 2' $(DEMO_BUNDLE)/config.json; } || $(NATIVE_DIR)/bin/dida export $(DEMO_BUNDLE); \
	elif [ -f $(DEMO_RUN)/checkpoint.pt ] && [ ! -f $(DEMO_BUNDLE)/config.json ]; then \
	  echo "demo: resuming the interrupted training in $(DEMO_RUN)"; \
	  $(NATIVE_DIR)/bin/dida train --resume $(DEMO_RUN) && $(NATIVE_DIR)/bin/dida export $(DEMO_BUNDLE); \
	else \
	  rm -rf $(DEMO_RUN); \
	  echo "demo: training the default model (mnist -> mnistm, dida, configs/small.toml; a few minutes on 2 cores, with a progress line)"; \
	  echo "demo: watch it in the page: in another terminal, $(NATIVE_DIR)/bin/dida serve --port 8081 $(DEMO_RUN), then open http://127.0.0.1:8081/?run=0"; \
	  $(NATIVE_DIR)/bin/dida train --config configs/small.toml --source mnist --target mnistm --method dida --seed 1 \
	    --out $(DEMO_RUN) $(DIDA_DEMO_TRAIN_FLAGS) && $(NATIVE_DIR)/bin/dida export $(DEMO_BUNDLE); \
	fi

build: native wasm site

test-native: native
	ctest --test-dir $(NATIVE_DIR) --output-on-failure

test-wasm: wasm
	ctest --test-dir $(WASM_DIR) --output-on-failure

test-browser: build
	node --test --test-timeout=2400000 tests/browser/ tests/node/ tests/e2e/

test: build fuzz-build
	ctest --test-dir $(NATIVE_DIR) --output-on-failure
	ctest --test-dir $(WASM_DIR) --output-on-failure
	bash tests/fuzz/run.sh $(FUZZ_DIR) runs:$(TEST_FUZZ_RUNS)
	node --test --test-timeout=2400000 tests/browser/ tests/node/ tests/e2e/

demo: native wasm
	@$(MAKE) --no-print-directory site  # before the training too: its live view needs the page's sample sets
	@$(MAKE) --no-print-directory train-demo
	@$(MAKE) --no-print-directory site
	@node scripts/model_summary.mjs $(DEMO_BUNDLE)
	@exec $(NATIVE_DIR)/bin/dida serve --site $(SITE_DIR) --port $(PORT) $(DEMO_RUN)

serve:
	$(NATIVE_DIR)/bin/dida serve --site $(SITE_DIR) --port $(PORT) $(wildcard $(DEMO_RUN))

# Fuzzers: every loader of the core under libFuzzer with ASan and UBSan, seeded with
# tests/fuzz/corpus. `make test` runs each on TEST_FUZZ_RUNS inputs from seed 1 (repeatable).
FUZZ_DIR := build/fuzz
FUZZ_SECONDS ?= 60
TEST_FUZZ_RUNS ?= 2000
fuzz-build: deps
	@CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIDA_BUILD_NATIVE=OFF \
	  -DDIDA_BUILD_TESTS=OFF -DDIDA_BUILD_FUZZERS=ON > /dev/null
	cmake --build $(FUZZ_DIR) -j$(JOBS)

fuzz: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

test-fuzz: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_DIR) runs:$(TEST_FUZZ_RUNS)

asan: deps
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DDIDA_SANITIZE=address,undefined -DDIDA_BUILD_NATIVE=ON > /dev/null
	cmake --build build/asan -j$(JOBS) --target core_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 build/asan/bin/core_tests

# The mnist -> mnistm comparison of docs/RESULTS.md, default and small configuration (resumable:
# finished runs are reused, an interrupted one resumes).
bench: native
	$(NATIVE_DIR)/bin/dida bench --source mnist --target mnistm --methods source-only,dann,dida,dsn --seeds 1,2,3 --out runs/bench
	$(NATIVE_DIR)/bin/dida bench --config configs/small.toml --source mnist --target mnistm --methods source-only,dann,dida --seeds 1,2,3 --out runs/bench-small

models: native
	node scripts/ship_models.mjs

clean:
	rm -rf build
