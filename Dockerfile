# syntax=docker/dockerfile:1
# factom-sidecar: one static binary on a distroless, non-root base.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
# The same command `make build` runs: static, trimmed, version stamped.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/factom-sidecar/factom-sidecar/internal/version.Version=${VERSION}" \
      -o /out/sidecar ./cmd/sidecar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sidecar /sidecar
USER 65532:65532
EXPOSE 8099 8189
ENTRYPOINT ["/sidecar"]
