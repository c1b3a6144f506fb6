# The code location image for production (EDP_ENV=prod): the project with both cloud warehouse
# extras and dagster-k8s (the Helm chart's run launcher starts each run as a pod of this image).
# Build: docker build -t registry.example.com/email-data-platform:$(git rev-parse --short HEAD) .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    EDP_ENV=prod \
    DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /opt/edp
# Dependencies first, so a code-only change rebuilds one thin layer.
COPY pyproject.toml README.md ./
COPY email_data_platform ./email_data_platform
RUN pip install ".[snowflake,bigquery,k8s]" \
    && useradd --create-home --uid 10001 edp \
    && mkdir -p "$DAGSTER_HOME" /data/edp && chown -R edp "$DAGSTER_HOME" /data/edp
COPY dagster.prod.yaml $DAGSTER_HOME/dagster.yaml

USER edp
ENV EDP_HOME=/data/edp
EXPOSE 3030
# The chart overrides this with `dagster api grpc` (dagsterApiGrpcArgs); the same module either way.
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "3030", \
     "--module-name", "email_data_platform.definitions"]
