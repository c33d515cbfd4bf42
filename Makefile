# brandpulse — the two commands: `make demo` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BRANDPULSE := $(BUILD_DIR)/brandpulse

.PHONY: all deps configure build demo test bench bench-full crash-test callgrind clean
.PHONY: test-asan test-tsan fuzz

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
	@bash scripts/crash-test.sh --kills 25 --posts 1000000 --replay --brandpulse $(BRANDPULSE) --work build/crash-test-dedup

# Benchmarks side by side (bench/README.md): writes bench/RESULTS.md and bench/results.png.
bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run.sh --brandpulse $(BRANDPULSE) --bench $(BUILD_DIR)/bench/brandpulse_bench --out $(BUILD_DIR)/bench/out

# The same plus 100k brands (longer than the 10-minute budget of `make bench`).
bench-full: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run.sh --full --brandpulse $(BRANDPULSE) --bench $(BUILD_DIR)/bench/brandpulse_bench --out $(BUILD_DIR)/bench/out

# Instruction counts (valgrind callgrind) of the bench's e2e pipeline on its 10k-brand input:
# repeatable where times are not. A build without AVX-512 (valgrind cannot run it).
callgrind: deps
	@cmake -S . -B $(BUILD_DIR)-cg -DCMAKE_BUILD_TYPE=Release -DBRANDPULSE_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=haswell >/dev/null
	@cmake --build $(BUILD_DIR)-cg -j $(JOBS) --target brandpulse brandpulse_bench
	@CG_DATA=$(BUILD_DIR)-cg/callgrind-data bash bench/callgrind.sh $(BUILD_DIR)-cg/brandpulse $(BUILD_DIR)-cg/callgrind
	@# The matching stage alone (issue 17): match, match-folded and re2-set on the first 3,000 posts.
	@head -n 3000 $(BUILD_DIR)-cg/callgrind-data/main.jsonl > $(BUILD_DIR)-cg/callgrind/main-3000.jsonl
	@bash bench/matcher-cost.sh $(BUILD_DIR)-cg/bench/brandpulse_bench $(BUILD_DIR)-cg/callgrind-data/watchlist-10000.yaml $(BUILD_DIR)-cg/callgrind/main-3000.jsonl | tee $(BUILD_DIR)-cg/callgrind/matcher-cost.tsv

# --- Sanitizers and fuzzing (docs/testing.md): each in a build directory of its own ----------
CCACHE_FLAG := $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# verify_asan_link_order=0: the Kafka script tests start brandpulse under `stdbuf -oL`, which
# preloads libstdbuf.so before gcc's shared ASan runtime; ASan then refuses to start ("ASan runtime
# does not come first"). libstdbuf only sets stdio buffering; malloc still resolves to ASan.
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1:verify_asan_link_order=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/sanitizers/lsan.supp \
  TSAN_OPTIONS=halt_on_error=1:history_size=7:second_deadlock_stack=1:suppressions=$(CURDIR)/fuzz/sanitizers/tsan.supp
# The threaded tests make test-tsan builds and runs: every test binary that runs a pipeline (its
# match workers, sink delivery thread, background watchlist compile, HTTP API) or threads of its
# own, and the Kafka source against a mock cluster; brandpulse and webhook_receiver are the
# processes some of them start.
TSAN_TESTS ?= pipeline_runner_test pipeline_seams_test pipeline_watchlist_reload_test \
  pipeline_window_queries_test pipeline_alert_rules_test operators_hyperscan_match_test \
  operators_webhook_sink_test operations_metrics_test engine_state_store_test \
  hardening_http_test hardening_query_test hardening_disk_full_test hardening_event_time_test \
  operators_kafka_test cluster_partials_test hardening_state_store_full_test
TSAN_PROGRAMS := brandpulse webhook_receiver
# librdkafka starts its threads with C11 thrd_create, which the TSan runtimes of gcc 12 and
# clang 14 do not intercept (the first malloc on such a thread crashes the runtime). Every test
# process is started with tests/tsan_c11_threads.c preloaded: C11 threads and locks over the
# pthread functions TSan intercepts, so the Kafka tests run under TSan too (docs/testing.md).
TSAN_C11_THREADS := $(CURDIR)/build-tsan/libtsan_c11_threads.so
# bench_smoke needs brandpulse_bench, which test-tsan does not build.
TSAN_EXCLUDED := ^bench_smoke$$
# make fuzz: seconds per target (9 targets), the nice level, and which targets (default all).
FUZZ_SECONDS ?= 20
FUZZ_NICE ?= 10
FUZZ_TARGETS ?=

# The whole suite built with AddressSanitizer + UndefinedBehaviorSanitizer (gcc, -O1 -g1 like
# TSan: quicker to build than -O2 -g on a shared machine, assertions on, line numbers in reports).
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" $(CCACHE_FLAG) \
	  -DBRANDPULSE_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS) --timeout 900

# The threaded pipeline tests built with ThreadSanitizer (gcc, -O1 -g1: quicker to build, and
# line numbers are all a race report needs).
test-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" $(CCACHE_FLAG) \
	  -DBRANDPULSE_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target $(TSAN_PROGRAMS) $(TSAN_TESTS)
	@cc -shared -fPIC -O1 -g -Wall -o $(TSAN_C11_THREADS) tests/tsan_c11_threads.c -pthread
	@cd build-tsan && $(SANITIZER_ENV) LD_PRELOAD=$(TSAN_C11_THREADS) ctest --output-on-failure -j $(JOBS) --timeout 900 \
	  -E '_NOT_BUILT$$|^fuzz_replay_|^crash_test|$(TSAN_EXCLUDED)'

# libFuzzer over every target in fuzz/ for FUZZ_SECONDS each, one after the other under
# nice -n FUZZ_NICE (clang, ASan + UBSan); new corpus
# entries and crash inputs land in build-fuzz/ (fuzz/README.md says what to keep).
fuzz:
	@bash scripts/install-deps.sh --fuzz
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  $(CCACHE_FLAG) -DBRANDPULSE_SANITIZE=fuzzer-no-link,address,undefined \
	  -DBRANDPULSE_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	@bash fuzz/run.sh --build build-fuzz --seconds $(FUZZ_SECONDS) --nice $(FUZZ_NICE) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR) out

# The container image (deploy/README.md): debootstrap base + buildah, Debian's archive only. Slow
# (a full build inside); installs buildah and debootstrap itself, so `make test` does not need them.
.PHONY: image
image:
	@bash deploy/image/build-image.sh

# Kafka (issue 11): the demo through `brandpulse dev-kafka` (a local mock cluster) and kcat.
.PHONY: demo-kafka
demo-kafka: build
	@bash scripts/demo-kafka.sh $(BRANDPULSE)

# Alerts (issue 12): the webhook fault test's long form (more posts, four kill cycles: receiver
# down / 503 / slow, engine SIGKILLed twice a cycle) and the ingest → alert latency benchmark.
.PHONY: webhook-fault-test alert-latency
webhook-fault-test: build
	@cd $(BUILD_DIR)/tests && BRANDPULSE_FAULT_POSTS=20000 BRANDPULSE_FAULT_CYCLES=4 \
	  BRANDPULSE_FAULT_INGEST_POSTS=100000 ./alert_webhook_fault_test
alert-latency: build
	@bash bench/alert-latency.sh --build $(BUILD_DIR)

# Issue 11, snapshots (≈75 s, two phases: windows only, then with dedup, unanswered and viral_post state): a gained partials partition whose beginning was deleted restores
# from its snapshot to windows byte-identical to a file run; without snapshots the run stops.
.PHONY: snapshot-test
snapshot-test: build
	@bash tests/kafka/snapshot-test.sh --brandpulse $(BRANDPULSE) --work $(BUILD_DIR)/snapshot-test

# Kafka cluster fault test (issue 11), long form: more posts and partitions, the same schedule of
# SIGTERM, SIGKILL + restart, SIGSTOP/SIGCONT, a fresh disk and broker faults (tests/kafka/).
# CLUSTER_TEST_MODE=global (default): the final instance's windows and the alert ids must equal a
# file run; per-instance: instances without `cluster:` (nothing lost; counted twice is a figure).
CLUSTER_TEST_MODE ?= global
.PHONY: cluster-test
cluster-test: build
	@bash tests/kafka/cluster-fault-test.sh --long --mode $(CLUSTER_TEST_MODE) --brandpulse $(BRANDPULSE) --work $(BUILD_DIR)/cluster-test

# Issue 11: `time.idle_timeout` across instances (tests/kafka/idle-test.sh, ≈25 s): a source
# partition that stops getting posts no longer holds the merged watermark once its reader reports
# it idle; without the timeout it does.
.PHONY: cluster-idle-test
cluster-idle-test: build
	@bash tests/kafka/idle-test.sh --brandpulse $(BRANDPULSE) --work $(BUILD_DIR)/idle-test

# Issue 11 (stop 26): a rolling restart of 3 instances on the mock cluster, ≈2 min; not a test
# (figures, then windows and alert ids against a single-process run): bench/kafka-results.md.
.PHONY: rolling-restart
rolling-restart: build
	@bash bench/rolling-restart.sh --brandpulse $(BRANDPULSE) --work $(BUILD_DIR)/rolling-restart
