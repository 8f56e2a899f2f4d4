# Node 24, the current LTS. One image, two roles: APP_ROLE=api serves HTTP, APP_ROLE=worker runs the queue processors.
# The `build` stage also serves the one-shot `migrate` service of docker-compose.yml, which needs
# the Prisma CLI and tsx for the seed.

FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV CHECKPOINT_DISABLE=1
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
# postinstall runs `prisma generate` into src/generated
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Two glibc malloc arenas instead of one per thread (8 per core): libuv's and V8's threads (argon2 hashing, compilers)
# otherwise each keep their own arena's peak, about 20 MB more resident memory per process (BENCHMARKS.md).
ENV MALLOC_ARENA_MAX=2
# A young generation of 8 MB semi-spaces (V8's default grows them to 16): less memory, and in bench/api.mjs a faster
# cached read path as well (fewer cache misses in a smaller nursery); the send path measured the same.
ENV NODE_OPTIONS=--max-semi-space-size=8
COPY package.json package-lock.json ./
# The generated Prisma client is compiled into dist/; no generate step (and no Prisma CLI) at runtime.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild argon2 && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "dist/healthcheck.js"]
CMD ["node", "dist/main.js"]
