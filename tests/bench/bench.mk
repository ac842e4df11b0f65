# Benchmark tools (run by tests/bench/run.sh).
#   api_latency  round-trip latency of GET / and PUT /machine-config on one keep-alive
#                connection to a running wisp --api-sock
BINS += $(BUILD)/bench/api_latency

$(BUILD)/bench/api_latency: tests/bench/api_latency.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
