# Benchmark tools (run by tests/bench/run.sh through `make bench`).
#   api_latency  round-trip latency of GET / and PUT /machine-config on one keep-alive
#                connection to a running wisp --api-sock
#   boot         launches a command N times (or M in parallel): wall time exec -> exit, peak
#                RSS, launch rate, API socket readiness; checks exit status and output
BENCH_TOOLS := api_latency boot
BENCH_BINS  := $(addprefix $(BUILD)/bench/,$(BENCH_TOOLS))
BINS += $(BENCH_BINS)

$(BENCH_BINS): $(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
