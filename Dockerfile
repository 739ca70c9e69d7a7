# yibao 医保基金管理后台: one image for the API, both workers and the migrate job.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    API_HOST=0.0.0.0 \
    API_PORT=8000

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
# (An empty services/ lets setuptools resolve and install the dependencies alone.)
COPY pyproject.toml README.md ./
RUN mkdir services && pip install -e . && rm -rf services/*.egg-info

# The code. The install is editable on purpose: yibao.config.REPO_ROOT is the directory two
# levels above services/yibao/, where alembic.ini, migrations/ and data/reference/ live;
# from site-packages those would not be found.
COPY alembic.ini ./
COPY migrations ./migrations
COPY data ./data
COPY services ./services
RUN pip install --no-deps -e . \
    && python -m compileall -q services migrations \
    && useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin yibao \
    && mkdir -p state \
    && chown yibao state

# The state directory (the nightly audit anchors, AUDIT_ANCHOR_FILE's default) must be writable by
# the service user and outlive the container: docker-compose.yml mounts a volume here.
ENV STATE_DIR=/app/state

USER yibao

EXPOSE 8000
CMD ["yibao", "api"]
