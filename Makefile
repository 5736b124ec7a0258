# KubeDojo: `make run` starts the product, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
BUNDLE := static/dist/kubedojo.js

.PHONY: run test lint bench frontend clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

# The browser code: npm packages (CodeMirror, xterm.js) bundled with ours by esbuild into static/dist/.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BUNDLE): node_modules/.installed static/build.mjs $(wildcard static/src/*.js static/src/*.css)
	npm run --silent build

frontend: $(BUNDLE)

run: $(VENV)/.installed $(BUNDLE)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed $(BUNDLE)
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	bash bench/run_all.sh

clean:
	rm -rf var/kubedojo.sqlite3* var/staticfiles static/dist
