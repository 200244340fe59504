# syntax=docker/dockerfile:1
#
# One image for the worker, the API and the QFPay emulator; the command picks the process:
#   API (default)  node --import tsx src/api/main.ts
#   worker         node --import tsx worker.ts
#   emulator       node --import tsx src/gateways/qfpay/emulator/main.ts
# tsx is a runtime dependency: it runs the TypeScript entry points directly, so there is no
# compile step beyond the prebuilt workflow bundle.

ARG NODE_IMAGE=node:20-bookworm-slim

# Every dependency, exactly as the lockfile pins them: needed to bundle the workflows.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# The workflow bundle (webpack through the SDK), so the worker does not bundle at every start.
FROM deps AS bundle
COPY tsconfig.json ./
COPY src ./src
RUN npm run build:bundle

# Production dependencies only (tsx included: it is a runtime dependency).
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node and reaps zombies, so the graceful shutdowns run.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000 \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
# Code and dependencies stay owned by root (read-only for the process); only .data is writable.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=bundle /app/dist/workflow-bundle.js ./dist/workflow-bundle.js
COPY package.json package-lock.json tsconfig.json worker.ts ./
COPY src ./src
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/deploy/healthcheck.mjs", "http://127.0.0.1:3000/healthz"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "src/api/main.ts"]
