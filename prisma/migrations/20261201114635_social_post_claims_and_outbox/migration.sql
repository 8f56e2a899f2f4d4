-- AlterTable
ALTER TABLE "social_posts" ADD COLUMN     "claimedAt" TIMESTAMP(3),
ADD COLUMN     "containerId" TEXT,
ADD COLUMN     "leaseUntil" TIMESTAMP(3);

-- A post left PUBLISHING by the previous code may have reached its platform: it counts as claimed with its
-- lease over, so the worker settles it without publishing it blindly a second time.
UPDATE "social_posts" SET "claimedAt" = "updatedAt", "leaseUntil" = "updatedAt" WHERE "status" = 'PUBLISHING';

-- CreateTable
CREATE TABLE "outbox_events" (
    "id" BIGSERIAL NOT NULL,
    "organizationId" TEXT NOT NULL,
    "namespace" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "availableAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastError" TEXT,
    "processedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "outbox_events_namespace_processedAt_id_idx" ON "outbox_events"("namespace", "processedAt", "id");

-- CreateIndex
CREATE INDEX "outbox_events_processedAt_idx" ON "outbox_events"("processedAt");

-- CreateIndex
CREATE INDEX "outbox_events_organizationId_idx" ON "outbox_events"("organizationId");

-- AddForeignKey
ALTER TABLE "outbox_events" ADD CONSTRAINT "outbox_events_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
