# C unit tests: every tests/unit/*.c is one file of the single runner build/unit-tests.
UNIT_SRCS += $(wildcard tests/unit/*.c)
