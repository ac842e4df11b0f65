# The Firecracker-compatible REST API on a Unix socket.
#   api_routes.c  route table, JSON bodies -> typed actions, actions -> vmm (pure, unit-tested)
#   api_http.c    one HTTP/1.1 connection over llhttp (pure, unit-tested, fuzzed)
#   api_server.c  the API thread: socket, epoll, evloop_call_sync()
WISP_SRCS += api-socket/api_routes.c api-socket/api_http.c api-socket/api_server.c
FUZZ_TARGETS += fuzz_api
