# One image for every Runestone role: `runestone operator`, `runestone gateway`,
# `runestone sidecar` (the operator starts gateway pods with its own image).
#
#   docker build -t ghcr.io/runestone-dev/runestone:0.1.0 .
#
# Dependencies are pinned by constraints.txt. For a release, pin the base image by digest too
# (python:3.11-slim-bookworm@sha256:...).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG GO_IMAGE=golang:1.26-bookworm

# runestone-weaviate-start: VectorCluster members start Weaviate through it (an init container
# copies it into the pod; see operator/weaviate-start/main.go).
FROM ${GO_IMAGE} AS weaviate-start
WORKDIR /src
COPY operator/weaviate-start ./
RUN GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -mod=readonly -ldflags="-s -w" \
      -o /out/runestone-weaviate-start .

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY cli cli
COPY operator operator
COPY gateway gateway
COPY sidecar sidecar
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/runestone \
 && /opt/runestone/bin/python -m pip install --constraint constraints.txt /wheels/runestone-*.whl \
 && /opt/runestone/bin/python -m pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
# PYTHONSAFEPATH: never put the working directory (or a script's folder) on sys.path, so a
# file dropped into one cannot shadow an installed module.
ENV PYTHONSAFEPATH=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/runestone/bin:$PATH
COPY --from=build /opt/runestone /opt/runestone
COPY --from=weaviate-start /out/runestone-weaviate-start /usr/local/bin/runestone-weaviate-start
# The uid and gid the pod specs run as (runAsUser/runAsGroup 65532), with a passwd entry for the
# libraries that look the user up; no home, no login shell.
RUN groupadd --system --gid 65532 runestone \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin runestone
USER 65532:65532
WORKDIR /tmp
# gateway API and health ports; the operator's /healthz is on 8080 too (one role per container).
EXPOSE 8080 8081
ENTRYPOINT ["runestone"]
CMD ["--help"]
