# spbot as a container: the installed wheel, a non-root user, `spbot run`.
#   docker build -t spbot .
#   docker run --env-file .env spbot                 # long polling, one instance
#   docker run --env-file .env -p 8080:8080 spbot spbot run --webhook
# compose.yaml runs PostgreSQL, two webhook instances and a proxy in front of them.
# Where Docker Hub cannot be reached, name a Python 3.11 image from your own registry:
#   docker build --build-arg PYTHON_IMAGE=registry.example.nhs.uk/python:3.11-slim -t spbot .

ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
COPY messages ./messages
RUN python -m pip wheel --no-deps -w /dist .

FROM ${PYTHON_IMAGE}
# MALLOC_ARENA_MAX=2: with SQLite each database connection is a thread (aiosqlite),
# and glibc keeps a malloc arena per thread: a burst of answers left 25 MB more
# resident with the default number (README, "At scale: memory, and a million patients").
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PATH=/opt/spbot/bin:$PATH MALLOC_ARENA_MAX=2
RUN useradd --create-home --uid 10001 spbot \
    && python -m venv /opt/spbot
COPY --from=build /dist/*.whl /tmp/
RUN /opt/spbot/bin/pip install /tmp/spbot-*.whl && rm /tmp/spbot-*.whl
USER spbot
WORKDIR /home/spbot
# The crisis screen's sentence model (pinned, checked by sha256). Without it the bot
# screens with the rules alone, and says so in its log.
RUN spbot safety fetch-model || echo "embedding model not fetched: the rules alone will screen"
EXPOSE 8080
# SIGTERM (docker stop) stops it cleanly within a few seconds; exit code 70 means it
# stalled and wants restarting (compose's restart policy does that).
CMD ["spbot", "run"]
