-- CreateEnum
CREATE TYPE "ConsentStatus" AS ENUM ('OPTED_IN', 'OPTED_OUT');

-- CreateEnum
CREATE TYPE "ConsentSource" AS ENUM ('API', 'IMPORT', 'INBOUND_KEYWORD', 'UNSUBSCRIBE_LINK', 'PROVIDER');

-- CreateTable
CREATE TABLE "contact_consents" (
    "contactId" TEXT NOT NULL,
    "channel" "Channel" NOT NULL,
    "organizationId" TEXT NOT NULL,
    "status" "ConsentStatus" NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "contact_consents_pkey" PRIMARY KEY ("contactId","channel")
);

-- CreateTable
CREATE TABLE "consent_events" (
    "id" BIGSERIAL NOT NULL,
    "organizationId" TEXT NOT NULL,
    "contactId" TEXT NOT NULL,
    "channel" "Channel" NOT NULL,
    "status" "ConsentStatus" NOT NULL,
    "source" "ConsentSource" NOT NULL,
    "evidence" TEXT,
    "actorId" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consent_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "contact_consents_organizationId_channel_status_idx" ON "contact_consents"("organizationId", "channel", "status");

-- CreateIndex
CREATE INDEX "consent_events_contactId_at_idx" ON "consent_events"("contactId", "at");

-- CreateIndex
CREATE INDEX "contacts_phone_idx" ON "contacts"("phone");

-- AddForeignKey
ALTER TABLE "contact_consents" ADD CONSTRAINT "contact_consents_contactId_fkey" FOREIGN KEY ("contactId") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consent_events" ADD CONSTRAINT "consent_events_contactId_fkey" FOREIGN KEY ("contactId") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The consent history is evidence (LGPD art. 8: the store must prove consent), so the application only ever
-- appends to it. UPDATE is refused outright. DELETE is refused unless the contact row is already gone, which
-- is the case only inside the ON DELETE CASCADE of that contact (erasure on request, LGPD art. 18) or of its
-- organization: the history leaves with the person it is about, and never on its own.
-- The body is an escape string with \073 for each semicolon: the offline migration runner splits scripts on
-- semicolons, and this keeps the function one statement for it and for the native engine alike.
CREATE FUNCTION "consent_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  IF TG_OP = ''DELETE'' AND NOT EXISTS (SELECT 1 FROM "contacts" WHERE "id" = OLD."contactId") THEN
    RETURN OLD\073
  END IF\073
  RAISE EXCEPTION ''consent_events is append-only: % refused'', TG_OP USING ERRCODE = ''insufficient_privilege''\073
END';

CREATE TRIGGER "consent_events_append_only"
  BEFORE UPDATE OR DELETE ON "consent_events"
  FOR EACH ROW EXECUTE FUNCTION "consent_events_append_only"();
