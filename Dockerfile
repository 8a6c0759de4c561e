# The Leadwire app image: one image, three roles (docker-compose.yml picks the command):
#   npm run migrate   one-shot: applies the SQL migrations
#   npm run api       the HTTP API and live feed (scale horizontally)
#   npm run worker    the Temporal worker (scale horizontally)
# Runs the TypeScript sources through tsx, exactly as `npm start` does locally.

# ── build: everything, to build the web pages (vite is a dev dependency) ──
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run --if-present build:web

# ── runtime: production dependencies, sources, built pages ──
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app /build
RUN for d in activities api bin claims db domain lib observability ops scripts temporal worker workflows; do cp -r /build/$d ./$d; done \
 && mkdir -p web && (cp -r /build/web/dist web/dist 2>/dev/null || true) \
 && cp /build/tsconfig.json ./ && rm -rf /build
# The pages are built above; npm's pre-hooks (preapi, prestart: rebuild stale pages with Vite, a dev
# dependency) must not run here. `npm run <role>` still runs the role itself.
ENV npm_config_ignore_scripts=true
USER node
EXPOSE 3000 9464
CMD ["npm", "run", "api"]
