# syntax=docker/dockerfile:1
#
# Conclave member image: `conclave serve` as a non-root user, data on a volume.
# Build:  docker build -t conclave:0.1.0 .
# Run:    see docs/deploy.md (a member needs its advertise URLs and a cluster secret).
#
# Debian (glibc), not Alpine: lmdb installs a prebuilt glibc binary
# (@lmdb/lmdb-linux-x64 / -arm64), so nothing is compiled and no build tools are needed.
ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Install scripts stay off: the native modules (lmdb, msgpackr-extract) load
# their prebuilt binaries from optional dependencies (package.json allowScripts).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# A fixed uid/gid so volume ownership and Kubernetes' runAsUser/fsGroup agree.
RUN groupadd --system --gid 10001 conclave \
  && useradd --system --uid 10001 --gid conclave --home-dir /var/lib/conclave --shell /usr/sbin/nologin conclave \
  && mkdir -p /var/lib/conclave /run/conclave \
  && chown conclave:conclave /var/lib/conclave /run/conclave \
  && chmod 0700 /var/lib/conclave
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY ui ./ui
COPY deploy/docker/healthcheck.mjs ./healthcheck.mjs
RUN ln -s /app/dist/cli/main.js /usr/local/bin/conclave

# Listen on every interface of the container, on the serve defaults (client
# 7379, peer 7380) and the etcd gRPC port `conclave start` uses (7479). A
# wildcard listen address needs the advertise settings
# (CONCLAVE_ADVERTISE_CLIENT_URL, CONCLAVE_ADVERTISE_PEER,
# CONCLAVE_ADVERTISE_GRPC_URL): serve refuses to start without them.
ENV CONCLAVE_DATA_DIR=/var/lib/conclave \
  CONCLAVE_LISTEN_CLIENT=0.0.0.0:7379 \
  CONCLAVE_LISTEN_PEER=0.0.0.0:7380 \
  CONCLAVE_LISTEN_GRPC=0.0.0.0:7479
EXPOSE 7379 7380 7479
VOLUME ["/var/lib/conclave"]
USER conclave:conclave

# Liveness, not readiness: /health answers while the process serves, /ready
# also needs a known leader. A member cut off from its quorum is alive and
# must stay up (restarting it does not bring a leader back, and restarting
# every member at once would make things worse), so the container health
# follows /health. Readiness (/ready) belongs to the load balancer: see
# deploy/kubernetes/statefulset.yaml.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "/app/healthcheck.mjs"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["conclave", "serve"]
