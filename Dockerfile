# Browser assets from npm (the bpmn-js diagram viewer), pinned by package-lock.json: what
# `make assets` copies into service/static/vendor/. The test-only devDependencies stay out.
FROM node:22-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && mkdir -p vendor/bpmn-js \
 && cp node_modules/bpmn-js/dist/bpmn-viewer.production.min.js \
       node_modules/bpmn-js/dist/bpmn-modeler.production.min.js vendor/bpmn-js/ \
 && cp -r node_modules/bpmn-js/dist/assets/. vendor/bpmn-js/

# The app image: the same package and gunicorn as `make run`, as an unprivileged user.
# Bookworm, like the postgres:15 image: its postgresql-client-15 matches the server.
FROM python:3.11-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 TZ=UTC
WORKDIR /app
COPY pyproject.toml README.md ./
# DejaVu fonts: the police summary PDF embeds them so that every character prints as typed.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
# pg_dump/pg_restore of the db service's major version, for trygg backup and restore.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
COPY service ./service
COPY --from=assets /build/vendor ./service/static/vendor
COPY processes ./processes
COPY forms ./forms
RUN pip install . && useradd --system --uid 10001 trygg && mkdir -p /app/instance/attachments && chown -R trygg /app/instance && chmod 700 /app/instance/attachments
USER trygg
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# service/gunicorn_conf.py: JSON logs (one access line per request from the app) and Prometheus multiprocess mode.
CMD ["gunicorn", "--config", "python:service.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "service.wsgi:app"]
