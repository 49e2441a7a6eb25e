# syntax=docker/dockerfile:1
#
# The two images docker-compose.yml builds, from the repository root as context:
#
#   docker build --target api -t catalogue/api .   the API, and with another command the search
#                                                  indexer, migrations, keys, seed, reindex...
#   docker build --target web -t catalogue/web .   the storefront (SvelteKit, adapter-node)
#
# Each final stage installs the runtime dependencies alone (`npm ci --omit=dev`) and runs as the
# unprivileged `node` user; compilers and dev dependencies never reach it (the storefront is built
# in its own stage and only its output is copied). The TypeScript API runs as source through tsx,
# which is one of its runtime dependencies.
#
# web/test/deploy.test.ts reads this file and does what its final stages do, outside a container:
# the same files copied (through .dockerignore), the same `npm ci`, the same commands started.

# The Node.js and npm the project is tested with (TOOLCHAIN). npm 11 matters: it applies the
# install-script policy of package.json's allowScripts (.npmrc: strict-allow-scripts), where npm
# 10, bundled with Node 20, would run every dependency's install script.
ARG NODE_VERSION=20.20.2
ARG NPM_VERSION=11.19.1

FROM node:${NODE_VERSION}-bookworm-slim AS base
ARG NPM_VERSION
# tini as PID 1: forwards SIGTERM to Node and reaps zombies (`docker run` without --init too).
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && npm install -g --no-audit --no-fund npm@${NPM_VERSION} \
  && npm cache clean --force
WORKDIR /app
# The manifests of the workspaces the images hold: the one lockfile covers them, and `npm ci`
# checks it against them (`npm ci -w` installs one workspace's dependencies, so the test-support
# workspace, `testing/`, stays out).
COPY package.json package-lock.json .npmrc ./
COPY api/package.json api/
COPY web/package.json web/

# ---------------------------------------------------------------------------------------------
# The storefront's build: Vite, SvelteKit and the compiler live here only.
FROM base AS web-build
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
  npm ci --no-audit --no-fund -w web
COPY web/vite.config.ts web/tsconfig.json web/
COPY web/static web/static
COPY web/src web/src
RUN npm run build -w web

# ---------------------------------------------------------------------------------------------
# The storefront: adapter-node's output, its runtime dependencies (web/package.json), and the
# server in front of it (web/server: compression and the page cache).
FROM base AS web
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
  npm ci --omit=dev --no-audit --no-fund -w web
COPY --from=web-build /app/web/build web/build
COPY web/server web/server
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
USER node
EXPOSE 3000
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--"]
CMD ["node", "web/server/index.js"]

# ---------------------------------------------------------------------------------------------
# The API. The same image runs the search indexer (`node --import tsx api/src/cli/search-index.ts
# indexer`) and the commands (`npm run -s migrate | keys | seed | reindex | reconcile`). With
# DATABASE_URL always set in a container, the embedded PostgreSQL is never started; its package
# stays installed because `--omit=optional`, which would drop it, would also drop esbuild's
# platform binary that tsx needs.
FROM base AS api
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
  npm ci --omit=dev --no-audit --no-fund -w api
COPY migrations migrations
COPY api/src api/src
ENV NODE_ENV=production API_HOST=0.0.0.0 API_PORT=3001
USER node
EXPOSE 3001
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--"]
CMD ["node", "--import", "tsx", "api/src/server.ts"]
