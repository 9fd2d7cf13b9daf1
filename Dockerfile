# syntax=docker/dockerfile:1
# Web stage: build the web app (frontend/) with Node; only its dist/ reaches the final image.
FROM node:20-slim AS web
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /web
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# Build stage: install Flowlet and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY backend/pyproject.toml backend/pyproject.toml
COPY backend/app backend/app
RUN /opt/venv/bin/pip install ./backend

# Runtime stage: only the virtual environment and the files gunicorn and Alembic need.
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    FLOWLET_ENV=production HOST=0.0.0.0 PORT=5000 WEB_DIST_DIR=/app/web
RUN groupadd --system --gid 10001 flowlet \
    && useradd --system --uid 10001 --gid flowlet --home-dir /app --shell /usr/sbin/nologin flowlet
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY backend/main.py backend/gunicorn.conf.py ./
COPY backend/app ./app
COPY backend/migrations ./migrations
COPY --from=web /web/dist ./web
# The code stays root's, read-only to the user that runs it; only instance/ is its own.
RUN mkdir -p /app/instance && chown flowlet:flowlet /app/instance
# A numeric user, so that Kubernetes can check runAsNonRoot (deploy/k8s runs it as 10001).
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health')"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "main:app"]
