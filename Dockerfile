# A Tributary worker, run as built JavaScript (scripts/build.ts strips the types with Node's own
# stripper into dist/), as `npm start` does: no TypeScript stripper in the running worker. Configure with TRIBUTARY_* environment variables (config/worker-config.ts), e.g.
#   docker run -p 8083:8083 -e TRIBUTARY_REST_AUTH_TYPE=bearer -e TRIBUTARY_REST_AUTH_TOKENS=... tributary
# See docker-compose.yml for three workers in distributed mode.
FROM node:22-slim

# The REST API listens on all interfaces so that it is reachable from outside the container; a
# non-loopback listener requires REST auth to be configured (or TRIBUTARY_REST_AUTH_ALLOW_INSECURE=true,
# as docker-compose.yml does for its loopback-only ports).
ENV NODE_ENV=production \
    TRIBUTARY_REST_HOST=0.0.0.0 \
    TRIBUTARY_STATE_DIR=/var/lib/tributary

WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY runtime ./runtime
COPY connectors ./connectors
COPY config ./config
COPY scripts ./scripts
RUN node --disable-warning=ExperimentalWarning scripts/build.ts

RUN mkdir -p /var/lib/tributary && chown node:node /var/lib/tributary
USER node

EXPOSE 8083
CMD ["node", "dist/runtime/cli/main.js", "start"]
