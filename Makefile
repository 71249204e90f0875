# dida's commands. The README's two: `make demo` (the main job) and `make test` (every test).
# Both run `make deps` first, which installs what is missing and does nothing otherwise.
SHELL := /bin/bash
JOBS ?= 2
PORT ?= 8080
BUILD_TYPE ?= Release
NATIVE_DIR := build/native
WASM_DIR := build/wasm
SITE_DIR := $(WASM_DIR)/site

# emcc needs acorn & co. from Debian's node modules; OpenMP must not spin on 2 busy cores.
export NODE_PATH := /usr/share/nodejs
export OMP_WAIT_POLICY := passive

.PHONY: help deps native wasm site build test test-native test-wasm test-browser demo serve asan bench clean

help:
	@echo "make demo          set up, build everything and serve the demo on http://127.0.0.1:$(PORT)"
	@echo "make test          set up, build both builds and run every test (ctest, then node --test)"
	@echo "make deps          install what is missing (Debian and npm packages, ImGui sources, data)"
	@echo "make native|wasm   build one of the two builds (build/native, build/wasm)"
	@echo "make serve         serve the built site without rebuilding"
	@echo "make asan          build and run the core tests under AddressSanitizer (build/asan)"
	@echo "make bench         mnist -> mnistm: source-only, dann, dida x 3 seeds (about 30 min)"
	@echo "make clean         remove build/"

deps:
	@bash scripts/setup.sh

native: deps
	@cmake -S . -B $(NATIVE_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build $(NATIVE_DIR) -j$(JOBS)

wasm: deps
	@emcmake cmake -S . -B $(WASM_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build $(WASM_DIR) -j$(JOBS)

# The site's model and sample set. Until trained models ship in models/, the page shows the small
# trained bundle of the parity tests. SITE_MODEL=path/to/bundle chooses another.
SITE_MODEL ?= tests/fixtures/parity/trained
site: native wasm
	@mkdir -p $(SITE_DIR)/models/default
	@cp $(SITE_MODEL)/config.json $(SITE_MODEL)/model.safetensors $(SITE_DIR)/models/default/
	@$(NATIVE_DIR)/bin/dida data samples --source mnist --target mnistm --n 100 --out $(SITE_DIR)/samples.safetensors > /dev/null
	@printf '{"models": [{"name": "default", "path": "models/default"}], "samples": "samples.safetensors"}\n' > $(SITE_DIR)/models/index.json

build: native wasm site

test-native: native
	ctest --test-dir $(NATIVE_DIR) --output-on-failure

test-wasm: wasm
	ctest --test-dir $(WASM_DIR) --output-on-failure

test-browser: build
	node --test --test-timeout=300000 tests/browser/ tests/node/

test: build
	ctest --test-dir $(NATIVE_DIR) --output-on-failure
	ctest --test-dir $(WASM_DIR) --output-on-failure
	node --test --test-timeout=300000 tests/browser/ tests/node/

demo: build
	node scripts/serve.mjs $(SITE_DIR) --port $(PORT)

serve:
	node scripts/serve.mjs $(SITE_DIR) --port $(PORT)

asan: deps
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DDIDA_SANITIZE=address,undefined -DDIDA_BUILD_NATIVE=ON > /dev/null
	cmake --build build/asan -j$(JOBS) --target core_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 build/asan/bin/core_tests

bench: native
	$(NATIVE_DIR)/bin/dida bench --source mnist --target mnistm --methods source-only,dann,dida --seeds 1,2,3 --epochs 10 --out runs/bench

clean:
	rm -rf build
