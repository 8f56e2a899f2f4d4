-- CreateEnum
CREATE TYPE "MessageDirection" AS ENUM ('OUTBOUND', 'INBOUND');

-- AlterEnum
ALTER TYPE "TriggerType" ADD VALUE 'INBOUND_MESSAGE';

-- AlterTable
ALTER TABLE "campaigns" ADD COLUMN     "skipped" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "template" JSONB;

-- AlterTable
ALTER TABLE "contacts" ADD COLUMN     "whatsappWindowExpiresAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "flows" ADD COLUMN     "triggerKeyword" TEXT;

-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "direction" "MessageDirection" NOT NULL DEFAULT 'OUTBOUND',
ADD COLUMN     "template" JSONB;

-- CreateTable
CREATE TABLE "whatsapp_templates" (
    "id" TEXT NOT NULL,
    "businessAccountId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "variables" INTEGER NOT NULL,
    "syncedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "whatsapp_templates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "whatsapp_template_syncs" (
    "businessAccountId" TEXT NOT NULL,
    "attemptedAt" TIMESTAMP(3) NOT NULL,
    "syncedAt" TIMESTAMP(3),
    "error" TEXT,

    CONSTRAINT "whatsapp_template_syncs_pkey" PRIMARY KEY ("businessAccountId")
);

-- CreateTable
CREATE TABLE "inbound_receipts" (
    "channel" TEXT NOT NULL,
    "externalId" TEXT NOT NULL,
    "messageId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbound_receipts_pkey" PRIMARY KEY ("channel","externalId")
);

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_templates_businessAccountId_name_language_key" ON "whatsapp_templates"("businessAccountId", "name", "language");

-- CreateIndex
CREATE INDEX "messages_organizationId_contactId_createdAt_idx" ON "messages"("organizationId", "contactId", "createdAt");
