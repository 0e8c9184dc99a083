# Multi-stage build of xds-hook: a static-ish release binary on a small, non-root runtime.
# Build:  docker build -t xds-hook .
# Run:    docker run --read-only -p 1063:1063 xds-hook

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
COPY tests tests
RUN cargo build --release --locked --bin xds-hook

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/xds-hook /usr/local/bin/xds-hook
USER nonroot:nonroot
EXPOSE 1063
ENTRYPOINT ["/usr/local/bin/xds-hook"]
CMD ["serve"]
