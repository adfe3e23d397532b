# IBIS-X build: one Makefile for libraries, services, tools and tests.
# BUILD selects the output tree; SAN=1 builds with AddressSanitizer + UBSan.
BUILD ?= build/release
SAN ?= 0
CC ?= cc

PKGS := libmicrohttpd libpq jansson libjwt rdkafka libcurl libsodium
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter -Wvla -Wimplicit-fallthrough
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -fno-omit-frame-pointer -pthread $(WARN) \
        -Ilibs/common/include -Ilibs/ml/include -Ilibs/xai/include -Itests/harness $(PKG_CFLAGS)
ifeq ($(SAN),1)
  CFLAGS_OPT := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS_SAN := -fsanitize=address,undefined
else
  CFLAGS_OPT := -O2
  LDFLAGS_SAN :=
endif
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS_OPT) $(EXTRA_CFLAGS)
LDLIBS_ALL := $(LDFLAGS_SAN) $(PKG_LIBS) -lm -pthread

# ---- libraries -------------------------------------------------------------
COMMON_SRC := $(wildcard libs/common/src/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
LIBCOMMON := $(BUILD)/lib/libcommon.a
ML_SRC := $(wildcard libs/ml/src/*.c)
ML_OBJ := $(ML_SRC:%.c=$(BUILD)/obj/%.o)
LIBML := $(BUILD)/lib/libml.a
XAI_SRC := $(wildcard libs/xai/src/*.c)
XAI_OBJ := $(XAI_SRC:%.c=$(BUILD)/obj/%.o)
LIBXAI := $(BUILD)/lib/libxai.a
# link order: the higher libraries first
LIBS_ALL := $(LIBXAI) $(LIBML) $(LIBCOMMON)

# ---- binaries: one per folder with a main.c ---------------------------------
SERVICES := gateway selection ml-pipeline xai-engine model-serving
SVC_BIN_gateway := ibx-gateway
SVC_BIN_selection := ibx-selection
SVC_BIN_ml-pipeline := ibx-pipeline
SVC_BIN_xai-engine := ibx-xai
SVC_BIN_model-serving := ibx-serving
# tools/<name>/*.c with a main() -> bin/ibx-<name> (ibx-devbroker, ibx-profile, ...)
TOOLS := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/main.c))))
TOOL_BINS := $(foreach t,$(TOOLS),$(BUILD)/bin/ibx-$(t))
BINS := $(foreach s,$(SERVICES),$(BUILD)/bin/$(SVC_BIN_$(s))) $(TOOL_BINS)

# ---- tests ------------------------------------------------------------------
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
HARNESS_SRC := $(wildcard tests/harness/*.c)
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all build tests up down logs test test-fast lint bench install clean format images
all: build
build: $(BINS)
tests: $(UNIT_BIN) $(INTEG_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBML): $(ML_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBXAI): $(XAI_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define service_rule
$(BUILD)/bin/$(SVC_BIN_$(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard services/$(1)/src/*.c)) $(LIBS_ALL)
	@mkdir -p $$(dir $$@)
	$$(CC) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))

define tool_rule
$(BUILD)/bin/ibx-$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/$(1)/*.c)) $(LIBS_ALL)
	@mkdir -p $$(dir $$@)
	$$(CC) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(HARNESS_OBJ) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# unit tests of a service's domain files link those objects (no #include of a .c file);
# they come after the libraries in $^, so the libraries are named again after them
$(BUILD)/tests/unit/test_plan: $(BUILD)/obj/services/ml-pipeline/src/plan.o
$(BUILD)/tests/unit/test_plan: LDLIBS_ALL := $(LIBS_ALL) $(LDLIBS_ALL)
$(BUILD)/tests/unit/test_runspec: $(BUILD)/obj/services/ml-pipeline/src/runspec.o
$(BUILD)/tests/unit/test_runspec: LDLIBS_ALL := $(LIBS_ALL) $(LDLIBS_ALL)
$(BUILD)/tests/unit/test_narrative: $(BUILD)/obj/services/xai-engine/src/narrative.o \
    $(BUILD)/obj/services/xai-engine/src/xreq.o
$(BUILD)/tests/unit/test_narrative: LDLIBS_ALL := $(LIBS_ALL) $(LDLIBS_ALL)
$(BUILD)/tests/unit/test_xreq: $(BUILD)/obj/services/xai-engine/src/xreq.o
$(BUILD)/tests/unit/test_xreq: LDLIBS_ALL := $(LIBS_ALL) $(LDLIBS_ALL)

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(HARNESS_OBJ) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDLIBS_ALL) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- the two commands and friends --------------------------------------------
install:
	tools/install-deps.sh

up: install
	$(MAKE) build BUILD=build/release
	tools/stack.sh up

down:
	tools/stack.sh down

logs:
	tools/stack.sh logs

# make test: release build + unit and integration tests, then the same under ASan+UBSan.
test: install
	tools/run-tests.sh

# one pass only, without sanitizers (quick local loop)
test-fast:
	tools/run-tests.sh --fast

lint:
	tools/lint.sh

bench:
	tools/install-deps.sh --bench
	bench/run.sh

# container images with buildah (no Docker engine): ibisx/<name>:dev for the five services,
# the web UI and the demo loader (tools/images/build.sh says more)
images:
	tools/install-deps.sh --images
	tools/images/build.sh

format:
	clang-format -i $$(git ls-files --cached --others --exclude-standard '*.c' '*.h')

clean:
	rm -rf build
