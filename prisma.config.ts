import { defineConfig } from 'prisma/config';

// DATABASE_URL comes from the environment (scripts/dev.mjs and .ci/run set it when absent).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
    seed: 'tsx prisma/seed.ts',
  },
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zyva',
  },
});
