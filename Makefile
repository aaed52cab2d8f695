# audit-ledger — the commands that matter. `make help` lists them.
CARGO ?= cargo
LEDGER := target/release/ledger

.PHONY: help build release test lint lint-ci fmt bench demo publish-audit clean man install-check

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## debug build
	$(CARGO) build

release: ## optimised build of the `ledger` binary
	$(CARGO) build --release

lint: ## formatting and clippy (warnings are errors)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test: lint lint-ci ## lint, then every test
	$(CARGO) test --all-targets
	$(CARGO) test --doc

man: ## man pages into target/man (ledger.1 and one per subcommand)
	$(CARGO) run --quiet --bin ledger -- man --out target/man

install-check: ## cargo install into a temp root, then the README quick start with that binary
	scripts/install-check.sh

lint-ci: ## actionlint and check-jsonschema on action.yml and examples/ci/
	scripts/lint-ci.sh

fmt: ## format the code
	$(CARGO) fmt --all

bench: release ## benchmarks (figures as ratios against baselines measured in the same run)
	scripts/bench.sh

demo: release ## a built-in example: a signed ledger with merges, deploys and a rollback, verified
	scripts/demo.sh

publish-audit: release ## record the release in audit/, write audit/bundle-<version>/ and verify it three ways
	scripts/publish-audit.sh

clean:
	$(CARGO) clean
