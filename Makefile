# Everything runs inside .venv, created on first use from Python 3.11 and pip alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install demo demo-fresh test lint typecheck bench diagram clean safety-model report-demo

help:
	@echo "make demo   - try a self-referral in the terminal (SQLite file demo.sqlite3, sample directory)"
	@echo "make demo-fresh - the same, starting again with nothing kept"
	@echo "make test   - run the tests (PostgreSQL ones too when SPBOT_TEST_POSTGRES_URL is set)"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - speed benchmarks"
	@echo "make safety-model - retrain the crisis screen's head after changing its examples"
	@echo "make report-demo - the outcomes report on made-up data, and a screenshot (build/report-demo/)"

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The crisis screen's embedding model (83 MB, pinned and checked). Without it the
	@# bot runs on the rules alone and says so; the tests that need it are skipped.
	@$(BIN)/spbot safety fetch-model || echo "Could not fetch the embedding model (see above): the bot will screen with the rules alone. Try again with: $(BIN)/spbot safety fetch-model"
	@touch $(STAMP)

install: $(STAMP)

# The demo keeps its answers in demo.sqlite3: `make demo` again carries on where you
# stopped (its goodbye says so); `make demo-fresh` starts again with nothing kept.
demo: $(STAMP)
	@test -f demo.sqlite3 || DATABASE_URL=sqlite+aiosqlite:///demo.sqlite3 $(BIN)/spbot directory import --sample
	DATABASE_URL=sqlite+aiosqlite:///demo.sqlite3 $(BIN)/spbot chat --carry-on 'make demo'

demo-fresh:
	rm -f demo.sqlite3
	@$(MAKE) --no-print-directory demo

# Both cores: the tests are independent (own files, schemas and ports).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check bot flows tests
	$(BIN)/ruff format --check bot flows tests
	$(BIN)/mypy

# Rebuild the meaning screen's head (bot/safety/model/) from its written examples,
# bit for bit (on the same library versions): run after changing bot/safety/model/examples.yaml.
safety-model: $(STAMP)
	$(BIN)/python -m bot.safety.model.train

# The outcomes report on two made-up quarters (seeded: the same every time), as
# HTML and CSV, and a headless Chromium screenshot of its first page.
REPORT_DEMO := build/report-demo
report-demo: $(STAMP)
	@mkdir -p $(REPORT_DEMO) && rm -f $(REPORT_DEMO)/demo.sqlite3
	DATABASE_URL=sqlite+aiosqlite:///$(REPORT_DEMO)/demo.sqlite3 $(BIN)/python -m bot.report.demo seed
	DATABASE_URL=sqlite+aiosqlite:///$(REPORT_DEMO)/demo.sqlite3 ORGANISATION_NAME="Sefton Social Prescribing (demo)" \
		$(BIN)/spbot report --from 2026-07-01 --to 2026-10-01 --output $(REPORT_DEMO)/outcomes-report.html
	DATABASE_URL=sqlite+aiosqlite:///$(REPORT_DEMO)/demo.sqlite3 ORGANISATION_NAME="Sefton Social Prescribing (demo)" \
		$(BIN)/spbot report --from 2026-07-01 --to 2026-10-01 --format csv --output $(REPORT_DEMO)/outcomes-report.csv
	$(BIN)/python -m bot.report.demo screenshot $(REPORT_DEMO)/outcomes-report.html $(REPORT_DEMO)/outcomes-report.png

# The check-in dispatcher's benchmark sends 10,000 check-ins at Telegram's 30 a second:
# about 6 minutes (SPBOT_BENCH_CHECKINS=1000 for a quick look). It runs on PostgreSQL
# when SPBOT_TEST_POSTGRES_URL is set (where SKIP LOCKED is what it measures), else SQLite.
# The replies benchmark (spbot against a bare python-telegram-bot echo bot) prints its
# table: -s shows it. The memory benchmark answers 10,000 conversations (about ten
# minutes; SPBOT_BENCH_ACTIVE=2000 for a quicker look); the million-patient one runs
# only with PostgreSQL (SPBOT_BENCH_PATIENTS=100000 for a quicker look).
bench: $(STAMP)
	$(BIN)/python -m pytest -q -s tests/benchmarks -p no:cacheprovider --timeout=3600 --benchmark-columns=min,median,mean,max,rounds

diagram: $(STAMP)
	$(BIN)/spbot diagram --write

clean:
	rm -rf $(VENV) demo.sqlite3 .pytest_cache .mypy_cache .ruff_cache
