# Multi-stage build of job-runner: a small Debian image running as a non-root user.
# Build: docker build -t job-runner .    Run it with docker-compose.runner.yml.

FROM rust:1.85-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY examples ./examples
COPY config ./config
RUN cargo build --release --locked --bin job-runner \
 && strip target/release/job-runner

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/job-runner --shell /usr/sbin/nologin job-runner \
 && mkdir -p /var/lib/job-runner/profiles /etc/job-runner \
 && chown -R job-runner:job-runner /var/lib/job-runner
COPY --from=build /src/target/release/job-runner /usr/local/bin/job-runner
COPY config/default.toml /etc/job-runner/default.toml
# Production: the daemon refuses to start without a RUNNER_API_SECRET of 16+ characters,
# so a container listening on every interface is never open by accident.
ENV CONFIG_DIR=/etc/job-runner \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/var/lib/job-runner/data \
    APPLICATIONS_DIR=/var/lib/job-runner/applications \
    PROFILES_DIR=/var/lib/job-runner/profiles \
    MASTER_CV_PATH=/var/lib/job-runner/master-cv.md \
    LOG_FORMAT=json
WORKDIR /var/lib/job-runner
USER 10001:10001
EXPOSE 8000
VOLUME ["/var/lib/job-runner"]
# /health without curl in the image: a raw HTTP request over bash's /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/job-runner"]
CMD ["serve"]
