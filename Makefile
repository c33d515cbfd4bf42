# brandpulse — the two commands: `make demo` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BRANDPULSE := $(BUILD_DIR)/brandpulse

.PHONY: all deps configure build demo test bench bench-full crash-test callgrind clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BRANDPULSE)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Exactness under crashes, long form: 2M posts, 25 SIGKILLs at random points (~1 minute).
crash-test: build
	@bash scripts/crash-test.sh --kills 25 --posts 2000000 --brandpulse $(BRANDPULSE)

# Benchmarks side by side (bench/README.md): writes bench/RESULTS.md and bench/results.png.
bench: build
	@bash bench/run.sh --brandpulse $(BRANDPULSE) --bench $(BUILD_DIR)/bench/brandpulse_bench --out $(BUILD_DIR)/bench/out

# The same plus 100k brands (longer than the 10-minute budget of `make bench`).
bench-full: build
	@bash bench/run.sh --full --brandpulse $(BRANDPULSE) --bench $(BUILD_DIR)/bench/brandpulse_bench --out $(BUILD_DIR)/bench/out

# Instruction counts (valgrind callgrind) of the bench's e2e pipeline on its 10k-brand input:
# repeatable where times are not. A build without AVX-512 (valgrind cannot run it).
callgrind: deps
	@cmake -S . -B $(BUILD_DIR)-cg -DCMAKE_BUILD_TYPE=Release -DBRANDPULSE_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=haswell >/dev/null
	@cmake --build $(BUILD_DIR)-cg -j $(JOBS) --target brandpulse brandpulse_bench
	@CG_DATA=$(BUILD_DIR)-cg/callgrind-data bash bench/callgrind.sh $(BUILD_DIR)-cg/brandpulse $(BUILD_DIR)-cg/callgrind

clean:
	rm -rf $(BUILD_DIR) out

# Kafka (issue 11): the demo through `brandpulse dev-kafka` (a local mock cluster) and kcat.
.PHONY: demo-kafka
demo-kafka: build
	@bash scripts/demo-kafka.sh $(BRANDPULSE)
