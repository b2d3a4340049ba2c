# syntax=docker/dockerfile:1
# mirrord-usage: one binary (DuckDB and the dashboard are compiled in) on a slim Debian runtime.
#
#   docker build -t mirrord-usage:0.1.0 .
#   docker run --rm -p 8050:8050 -p 4317:4317 -p 4318:4318 -p 24224:24224 \
#     -v mirrord-usage-data:/data mirrord-usage:0.1.0
#
# The first build compiles DuckDB from C++ (35-45 minutes on 2 cores); the cache mounts keep
# it for later builds. build.rs bundles the dashboard (web/) with npm, so the build stage has
# Node.js 20 (Debian trixie's); the runtime is the same Debian release, for the same glibc.

FROM rust:1-trixie AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY schemas ./schemas
COPY web ./web
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin mirrord-usage \
    && install -m 0755 target/release/mirrord-usage /usr/local/bin/mirrord-usage

FROM debian:trixie-slim AS runtime
# ca-certificates: HTTPS to an OTLP endpoint or the Jira webhook. libstdc++ (DuckDB) is in the base.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mirrord-usage \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home mirrord-usage \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=build /usr/local/bin/mirrord-usage /usr/local/bin/mirrord-usage
COPY pipelines/mirrord-usage.toml /etc/mirrord-usage/mirrord-usage.toml
ENV MIRRORD_USAGE_DB=/data/mirrord-usage.duckdb
VOLUME ["/data"]
# 8050 dashboard, API, /metrics · 4317 OTLP/gRPC · 4318 OTLP/HTTP · 24224 fluentd Forward
EXPOSE 8050 4317 4318 24224
USER 10001:10001
ENTRYPOINT ["mirrord-usage"]
CMD ["serve", "--config", "/etc/mirrord-usage/mirrord-usage.toml"]
