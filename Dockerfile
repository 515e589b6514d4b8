# Build wheels in one stage, run them in a slim one as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    LOG_FORMAT=json \
    DATA_DIR=/var/lib/credit-service
RUN useradd --system --uid 10001 --home-dir /var/lib/credit-service --create-home credit
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER credit
WORKDIR /var/lib/credit-service
EXPOSE 8000
# Production needs DATABASE_URL and SECRET_KEY; run `credit-service db upgrade` once per release.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"
CMD ["credit-service", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
