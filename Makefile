# The front door. `make demo` runs the main job on the embedded default (lab CA + local Intune
# emulator); `make test` runs the whole test suite. Both install missing Debian packages first.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build deps test-deps demo test check clean format sanitize valgrind fuzz fuzz-smoke fuzz-build install package

all: build

deps:
	@scripts/bootstrap

test-deps:
	@scripts/bootstrap --test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]: binaries, man pages, bash completion,
# the example configuration and the systemd units (which name $(PREFIX)/bin/smimesync).
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# make package: the Debian package (CPack), installing into /usr, in $(BUILD)/.
package: build
	cd $(BUILD) && cpack -G DEB

demo: build
	@scripts/demo $(BUILD)

# configure again: a build tree made by `make demo` predates cmocka (the unit tests' package)
test: test-deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (the fault matrix on
# SANITIZE_FAULT_USERS users: ASan makes a 1,000-user run too slow for CI). SSYNC_SANITIZED=1
# tells tests that bound memory or time to skip those bounds (ASan's shadow memory).
SANITIZE_FAULT_USERS ?= 100
sanitize: test-deps
	cmake -S . -B build-asan -DSSYNC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    SSYNC_FAULT_USERS=$(SANITIZE_FAULT_USERS) SSYNC_SANITIZED=1 \
	    ctest --output-on-failure -j $(JOBS)

# The integration tests with the smimesync CLI under valgrind memcheck (tests/valgrind/): any
# error or definite leak fails the test; reports in build-valgrind/valgrind/PID.log.
VALGRIND_FAULT_USERS ?= 30
valgrind: test-deps
	cmake -S . -B build-valgrind -DSSYNC_VALGRIND=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build build-valgrind -j $(JOBS)
	rm -f build-valgrind/valgrind/*.log
	cd build-valgrind && SSYNC_FAULT_USERS=$(VALGRIND_FAULT_USERS) \
	    ctest --output-on-failure -j $(JOBS) -R integration/
	@if [ -n "$$(find build-valgrind/valgrind -name '*.log' -size +0)" ]; then \
	    cat build-valgrind/valgrind/*.log; echo "valgrind: errors above"; exit 1; fi
	@echo "valgrind: no error, no definite leak"

# libFuzzer (clang): `make fuzz-smoke` runs every target for FUZZ_SECONDS on its seed corpus
# (CI); `make fuzz FUZZ_TARGET=fuzz_blob FUZZ_SECONDS=600` is one long campaign.
FUZZ_SECONDS ?= 20
FUZZ_TARGET ?= fuzz_blob
build-fuzz/CMakeCache.txt:
	CC=clang cmake -S . -B build-fuzz -DSSYNC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fuzz-build: test-deps build-fuzz/CMakeCache.txt
	cmake --build build-fuzz -j $(JOBS) --target $$(cd fuzz && ls fuzz_*.c | sed 's/\.c$$//')
fuzz-smoke: fuzz-build
	@scripts/fuzz-smoke build-fuzz $(FUZZ_SECONDS)
fuzz: fuzz-build
	mkdir -p build-fuzz/corpus/$(FUZZ_TARGET)
	build-fuzz/fuzz/$(FUZZ_TARGET) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 build-fuzz/corpus/$(FUZZ_TARGET) fuzz/corpus/$(FUZZ_TARGET)

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c

clean:
	rm -rf $(BUILD) build-asan build-valgrind build-fuzz
