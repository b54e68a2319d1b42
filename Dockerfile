# newsbot: the service image. Rules and data are volumes; configure with environment variables.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install '.[postgres]'

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSBOT_RULES=/app/rules \
    NEWSBOT_DB=sqlite:////app/data/newsbot.db
COPY --from=build /install /usr/local
RUN useradd --system --create-home --home-dir /app --uid 10001 newsbot
WORKDIR /app
COPY --chown=newsbot:newsbot rules ./rules
RUN mkdir -p /app/data && chown newsbot:newsbot /app/data
USER newsbot
VOLUME ["/app/rules", "/app/data"]
HEALTHCHECK --interval=5m --timeout=30s CMD ["newsbot", "check"]
CMD ["newsbot", "run"]
