/**
 * Creates the first ADMIN from ADMIN_EMAIL / ADMIN_PASSWORD. Running it again
 * changes nothing (an existing account is left exactly as it is).
 */
import { PrismaPg } from '@prisma/adapter-pg';
import * as argon2 from 'argon2';
import { PrismaClient } from '../src/generated/prisma/client';

async function main(): Promise<void> {
  const email = process.env.ADMIN_EMAIL?.trim().toLowerCase();
  const password = process.env.ADMIN_PASSWORD;
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set');
  if (!email || !password) {
    console.log('seed: ADMIN_EMAIL / ADMIN_PASSWORD not set, no admin created');
    return;
  }
  if (password.length < 8) throw new Error('ADMIN_PASSWORD must be at least 8 characters');
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL }) });
  try {
    const existing = await prisma.user.findUnique({ where: { email } });
    if (existing) {
      console.log(`seed: admin ${email} already exists, unchanged`);
      return;
    }
    const passwordHash = await argon2.hash(password, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    await prisma.user.create({
      data: { email, name: 'Zyva Admin', passwordHash, role: 'ADMIN', emailVerifiedAt: new Date() },
    });
    console.log(`seed: admin ${email} created`);
  } finally {
    await prisma.$disconnect();
  }
}

main().catch((error) => {
  console.error(`seed failed: ${(error as Error).message}`);
  process.exit(1);
});
