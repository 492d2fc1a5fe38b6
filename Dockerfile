# One image for every cradlewatch service (broker, ingest, rules, sim); docker-compose.yml picks the command.
# tsx runs the TypeScript sources directly, so there is no build step: the first stage only installs the
# production dependencies and the runtime stage copies them beside the sources. Node: the exact release
# scripts/node-runtime.mjs pins for machines with an older Node (a test keeps the two equal).

FROM node:24.22.3-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# `npm install` follows the lock; `npm ci` refuses a lock written without other platforms' optional packages.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24.22.3-bookworm-slim AS runtime
ENV NODE_ENV=production
# The broker keeps its MQTT sessions in a private redis-server under its data dir (broker/README.md).
RUN apt-get update \
  && apt-get install -y --no-install-recommends redis-server \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY lib ./lib
COPY protocol ./protocol
COPY broker ./broker
COPY ingest ./ingest
COPY rules ./rules
COPY frontend ./frontend
COPY device-sim ./device-sim
COPY dashboards ./dashboards
COPY bench ./bench
# Named volumes take their first owner from the image: the services write sessions, spools, journals and the
# fleet here.
RUN mkdir -p /data /fleet && chown node:node /data /fleet
USER node
EXPOSE 1883 8080 9464
# Each service answers its own check (compose sets the port); this default proves the CLI loads at all.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s CMD ["node", "bin/cradlewatch.mjs", "--version"]
CMD ["node", "bin/cradlewatch.mjs", "--help"]
