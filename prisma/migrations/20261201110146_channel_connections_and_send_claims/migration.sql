-- Channel connections per organization, the route each message/post was accepted with, the send claim,
-- and delivery reports that arrive before their send is recorded. `channel` becomes text (kept, cast) so
-- that extensions can register channels without a migration (the "Channel" enum stays, for consent).
-- CreateEnum
CREATE TYPE "SendRoute" AS ENUM ('CONNECTION', 'PLATFORM', 'SANDBOX');

-- CreateEnum
CREATE TYPE "ConnectionStatus" AS ENUM ('CONNECTED', 'INVALID');

-- AlterEnum
ALTER TYPE "MessageStatus" ADD VALUE 'SENDING';
ALTER TYPE "MessageStatus" ADD VALUE 'RECEIVED';

-- AlterTable
ALTER TABLE "campaigns" ADD COLUMN     "connectionId" TEXT,
ADD COLUMN     "route" "SendRoute",
ALTER COLUMN "channel" TYPE TEXT USING "channel"::text;

-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "claimedAt" TIMESTAMP(3),
ADD COLUMN     "connectionId" TEXT,
ADD COLUMN     "progress" JSONB,
ADD COLUMN     "route" "SendRoute",
ADD COLUMN     "uncertainSince" TIMESTAMP(3),
ALTER COLUMN "channel" TYPE TEXT USING "channel"::text;

-- AlterTable
ALTER TABLE "social_posts" ADD COLUMN     "connectionId" TEXT,
ADD COLUMN     "route" "SendRoute";

-- CreateTable
CREATE TABLE "channel_connections" (
    "id" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" "ConnectionStatus" NOT NULL DEFAULT 'CONNECTED',
    "accountKey" TEXT,
    "config" JSONB NOT NULL,
    "account" JSONB NOT NULL,
    "secrets" TEXT NOT NULL,
    "secretHint" TEXT NOT NULL,
    "maxPerSecond" INTEGER,
    "version" INTEGER NOT NULL DEFAULT 1,
    "error" TEXT,
    "connectedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "checkedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "channel_connections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pending_delivery_reports" (
    "id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "externalId" TEXT NOT NULL,
    "connectionId" TEXT,
    "status" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pending_delivery_reports_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "channel_connections_organizationId_kind_key" ON "channel_connections"("organizationId", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "channel_connections_kind_accountKey_key" ON "channel_connections"("kind", "accountKey");

-- CreateIndex
CREATE INDEX "pending_delivery_reports_channel_externalId_idx" ON "pending_delivery_reports"("channel", "externalId");

-- CreateIndex
CREATE INDEX "pending_delivery_reports_createdAt_idx" ON "pending_delivery_reports"("createdAt");

-- CreateIndex
CREATE INDEX "messages_connectionId_idx" ON "messages"("connectionId");

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_connectionId_fkey" FOREIGN KEY ("connectionId") REFERENCES "channel_connections"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "channel_connections" ADD CONSTRAINT "channel_connections_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
