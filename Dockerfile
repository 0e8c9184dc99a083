# Multi-stage build of xds-hook: the release binary on a distroless runtime, as a non-root
# user, needing nothing writable (run it with a read-only root filesystem).
#   docker build -t xds-hook .
#   docker run --read-only -p 1063:1063 -p 1064:1064 xds-hook
# tests/deploy.rs checks that the binary copied below is the one `cargo build --release` makes.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
# Cargo reads every target the manifest declares: the integration tests, the benches and the
# examples.
COPY tests tests
COPY benches benches
COPY examples examples
# Without the default `workload` feature: the synthetic fleet generator is for tests and
# benches, not the product.
RUN cargo build --release --locked --no-default-features --bin xds-hook

# glibc and libgcc only: the binary links nothing else (TLS is rustls).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/target/release/xds-hook /usr/local/bin/xds-hook
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# gRPC (server.listen) and admin HTTP (server.adminListen).
EXPOSE 1063 1064
ENTRYPOINT ["/usr/local/bin/xds-hook"]
CMD ["serve"]
