# SPDX-License-Identifier: MIT
# mlshift: `make` builds build/libmlshift.{a,so} and build/mlshift;
# with Debian's KIM API and OpenMPI also the KIM driver build/kim/… and
# build/mlshift-mpi (docs/lammps.md, docs/mpi.md);
# `make check` runs every test, then again under ASan+UBSan;
# `make bench`, `make demo`, `make fuzz`, `make install PREFIX=…`.
# Each first installs the Debian packages that are missing.
# Options: NATIVE=1 (-march=native), WERROR=1 (warnings as errors; on in CI),
# DEBUG=1 (-O0).

PREFIX   ?= /usr/local
CC       ?= cc
PYTHON   ?= /usr/bin/python3
MLSHIFT_DATA ?= $(abspath ../shared/data)
export MLSHIFT_DATA
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export OMP_WAIT_POLICY ?= PASSIVE

# Read when this Makefile is parsed, so only valid in a make started after
# the -dev packages are installed: the targets below that a user types
# (`make`, demo, check, bench, fuzz, install) run scripts/install-deps first
# and then do their work in a sub-make, which parses this file afresh.
# tests/reference/test_makefile.py checks that order on every such target.
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null)
HDF5_LIBS   := $(shell pkg-config --libs hdf5 2>/dev/null || echo -lhdf5)
XTB_CFLAGS  := $(shell pkg-config --cflags xtb 2>/dev/null)
XTB_LIBS    := $(shell pkg-config --libs xtb 2>/dev/null || echo -lxtb)
# LAMMPS/KIM (issue 11): the KIM driver is built when Debian's
# libkim-api-dev and a C++ compiler are there (kim/, docs/lammps.md).
KIM_OK      := $(shell pkg-config --exists libkim-api 2>/dev/null && command -v $(CXX) >/dev/null && echo 1)
KIM_CFLAGS  := $(shell pkg-config --cflags libkim-api 2>/dev/null) \
               -I$(shell pkg-config --variable=prefix libkim-api 2>/dev/null)/share/cmake/kim-api-items
KIM_LIBS    := $(shell pkg-config --libs libkim-api 2>/dev/null)
# MPI (issue 11): a second command, mlshift-mpi, when Debian's OpenMPI
# compiler wrapper is there (cli/mpi.c, docs/mpi.md); mlshift needs no MPI.
MPICC       ?= mpicc
MPI_OK      := $(shell command -v $(MPICC) >/dev/null && echo 1)

# CFLAGS/LDFLAGS are the user's (optimisation, sanitizers); the language
# and warning flags are always added, whatever is given on the command line.
OPT      := $(if $(DEBUG),-O0,-O2)
CFLAGS   ?= $(OPT) -g
STD_FLAGS := -std=c11 -Wall -Wextra -Wpedantic -fPIC -fvisibility=hidden -fno-math-errno -D_POSIX_C_SOURCE=200809L \
             $(if $(NATIVE),-march=native,) $(if $(or $(WERROR),$(CI)),-Werror,)
ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS)
CPPFLAGS += -Iinclude -Isrc $(HDF5_CFLAGS) $(XTB_CFLAGS)
LIBS_ALL := $(HDF5_LIBS) $(XTB_LIBS) -llapacke -lopenblas -lz -lm -pthread
LDLIBS   += $(LIBS_ALL)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer

B        ?= build
LIB_SRC  := $(sort $(wildcard src/*/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/bench_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
HEADERS  := include/mlshift.h $(wildcard src/*/*.h) $(wildcard cli/*.h) tests/check.h $(wildcard src/*/*.inc)

.PHONY: all build check test test-san bench bench-run demo demo-run fuzz \
        install install-files clean deps deps-build
all: deps-build
	@$(MAKE) --no-print-directory build integrations

build: $(B)/libmlshift.a $(B)/libmlshift.so $(B)/mlshift

$(B)/obj/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/libmlshift.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Exports: the public API only (mlshift_*). -fvisibility=hidden hides the
# rest, but GCC exports the ifunc resolvers of the target_clones kernels
# (src/nn/kernels.c) whatever the visibility; the version script keeps them
# local too.
$(B)/libmlshift.so: $(LIB_OBJ) scripts/libmlshift.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libmlshift.so.0 \
		-Wl,--version-script=scripts/libmlshift.map -o $@ $(LIB_OBJ) $(LDFLAGS) $(LDLIBS)

$(B)/mlshift: $(CLI_OBJ) $(B)/libmlshift.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(B)/libmlshift.a $(LDFLAGS) $(LDLIBS)

$(B)/tests/%: tests/%.c $(B)/libmlshift.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(B)/libmlshift.a $(LDFLAGS) $(LDLIBS)

# The optimisers with their internal functions exported, for the ctypes
# reference test against torch.optim (tests/reference/test_optim_torch.py):
# libmlshift.so exports only the public API.
$(B)/tests/libmlshift_optim.so: src/train/optim.c $(B)/libmlshift.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fvisibility=default -shared -o $@ $< $(B)/libmlshift.a \
		$(LDFLAGS) $(LDLIBS)

$(B)/bench/%: bench/%.c $(B)/libmlshift.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(B)/libmlshift.a $(LDFLAGS) $(LDLIBS)

# The KIM model driver (kim/driver.c + its collection-item record
# kim/item.cpp), with libmlshift linked in: a KIM collection directory
# $(B)/kim/model-drivers/mlshift_driver/. Portable models over it:
# kim/mlshift-kim-model. --exclude-libs: libmlshift's symbols stay inside
# the driver (a simulator may also load libmlshift.so).
KIM_DRIVER := $(if $(KIM_OK),$(B)/kim/model-drivers/mlshift_driver/libkim-api-model-driver.so)
.PHONY: kim mpi integrations
kim: $(KIM_DRIVER)

# mlshift-mpi: the same command with cli/mpi.c and cli/mpi_farm.c compiled
# against MPI.
MLSHIFT_MPI := $(if $(MPI_OK),$(B)/mlshift-mpi)
mpi: $(MLSHIFT_MPI)

integrations: kim mpi

MPI_SRC := cli/mpi.c cli/mpi_farm.c
MPI_OBJ := $(MPI_SRC:cli/%.c=$(B)/obj/mpi/%.o)
$(B)/obj/mpi/%.o: cli/%.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(MPICC) $(CPPFLAGS) $(ALL_CFLAGS) -DMLSHIFT_MPI -c $< -o $@

$(B)/mlshift-mpi: $(filter-out $(MPI_SRC:%.c=$(B)/obj/%.o),$(CLI_OBJ)) $(MPI_OBJ) $(B)/libmlshift.a
	$(MPICC) $(ALL_CFLAGS) -o $@ $(filter-out $(MPI_SRC:%.c=$(B)/obj/%.o),$(CLI_OBJ)) $(MPI_OBJ) \
		$(B)/libmlshift.a $(LDFLAGS) $(LDLIBS)

$(B)/kim/model-drivers/mlshift_driver/libkim-api-model-driver.so: kim/driver.c kim/item.cpp \
		$(B)/libmlshift.a $(HEADERS)
	@mkdir -p $(dir $@) $(B)/obj/kim
	$(CC) $(CPPFLAGS) $(KIM_CFLAGS) $(ALL_CFLAGS) -c kim/driver.c -o $(B)/obj/kim/driver.o
	$(CXX) $(KIM_CFLAGS) $(CFLAGS) -fPIC -DMLSHIFT_KIM_DRIVER -c kim/item.cpp -o $(B)/obj/kim/item.o
	$(CXX) $(CFLAGS) -shared -Wl,--exclude-libs,ALL -o $@ $(B)/obj/kim/driver.o $(B)/obj/kim/item.o \
		$(B)/libmlshift.a $(LDFLAGS) $(LDLIBS) $(KIM_LIBS)

# deps: every Debian package (scripts/install-deps); deps-build: only those
# compiling needs, for `make` and `make install`.
deps:
	@MLSHIFT_INTEGRATIONS=optional scripts/install-deps

deps-build:
	@scripts/install-deps build

# Every test, then every test again under ASan+UBSan (a separate build tree).
check: deps
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory test-san

test: build $(TESTS) $(B)/tests/libmlshift_optim.so integrations
	@scripts/run-tests $(B)

test-san:
	$(MAKE) B=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" build tests-only
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$(abspath scripts/lsan.supp) \
		scripts/run-tests build-san

.PHONY: tests-only
tests-only: $(TESTS)

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: build $(BENCHES)
	@scripts/run-bench $(B)

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: build
	@scripts/demo $(B)

fuzz: deps
	@$(MAKE) --no-print-directory build
	@scripts/fuzz $(B)

install: deps-build
	@$(MAKE) --no-print-directory install-files

# KIM collection of the driver (docs/lammps.md): KIM finds it through
# KIM_API_MODEL_DRIVERS_DIR=$(KIM_DIR)/model-drivers, or system-wide with
# KIM_DIR=$$(pkg-config --variable=libdir libkim-api)/kim-api.
KIM_DIR  ?= $(PREFIX)/lib/kim-api
install-files: build integrations
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(B)/mlshift $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(B)/libmlshift.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libmlshift.so $(DESTDIR)$(PREFIX)/lib/libmlshift.so.0
	ln -sf libmlshift.so.0 $(DESTDIR)$(PREFIX)/lib/libmlshift.so
	install -m 644 include/mlshift.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' \
		-e 's|@LIBS@|$(LIBS_ALL)|g' \
		mlshift.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mlshift.pc
	$(if $(KIM_DRIVER),install -d $(DESTDIR)$(KIM_DIR)/model-drivers/mlshift_driver \
		$(DESTDIR)$(PREFIX)/share/mlshift/kim)
	$(if $(KIM_DRIVER),install -m 755 $(KIM_DRIVER) $(DESTDIR)$(KIM_DIR)/model-drivers/mlshift_driver/)
	$(if $(KIM_DRIVER),install -m 755 kim/mlshift-kim-model $(DESTDIR)$(PREFIX)/bin/)
	$(if $(KIM_DRIVER),install -m 644 kim/item.cpp $(DESTDIR)$(PREFIX)/share/mlshift/kim/)
	$(if $(MLSHIFT_MPI),install -m 755 $(MLSHIFT_MPI) $(DESTDIR)$(PREFIX)/bin/)

clean:
	rm -rf build build-san build-fuzz
