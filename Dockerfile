# newsbot: the service image. Rules and data are volumes; configure with environment variables.
FROM python:3.11-slim AS build
# A C compiler for the dedup index's core (bot/_dedupcore.pyx); only the built package reaches the image.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install '.[postgres]'

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSBOT_RULES=/app/rules \
    NEWSBOT_DB=sqlite:////app/data/newsbot.db \
    NEWSBOT_METRICS_HOST=0.0.0.0 \
    NEWSBOT_METRICS_PORT=9464
COPY --from=build /install /usr/local
RUN useradd --system --create-home --home-dir /app --uid 10001 newsbot
WORKDIR /app
COPY --chown=newsbot:newsbot rules ./rules
RUN mkdir -p /app/data && chown newsbot:newsbot /app/data
USER newsbot
VOLUME ["/app/rules", "/app/data"]
EXPOSE 9464
HEALTHCHECK --interval=1m --timeout=10s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=5)"]
CMD ["newsbot", "run"]
