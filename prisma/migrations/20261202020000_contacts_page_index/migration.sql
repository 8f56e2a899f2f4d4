-- A page of contacts (newest first, then by id) reads this index backwards, without sorting the organization's contacts.
-- DropIndex
DROP INDEX "contacts_organizationId_createdAt_idx";

-- CreateIndex
CREATE INDEX "contacts_organizationId_createdAt_id_idx" ON "contacts"("organizationId", "createdAt", "id");
