# Conveniences; ./dev is the real entry point (it works without make).
.PHONY: demo test bench venv clean
demo:
	./dev demo
test:
	./dev test $(PYTEST_ARGS)
bench:
	./dev bench $(BENCH)
venv:
	./dev venv
clean:
	rm -rf .venv .cloudplane
