# The app image: the same package and gunicorn as `make run`, as an unprivileged user.
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 TZ=UTC
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY processes ./processes
COPY forms ./forms
RUN pip install . && useradd --system --uid 10001 trygg && mkdir -p /app/instance && chown trygg /app/instance
USER trygg
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logformat", "%(h)s \"%(m)s %(U)s\" %(s)s %(L)ss", "--access-logfile", "-", "service.wsgi:app"]
