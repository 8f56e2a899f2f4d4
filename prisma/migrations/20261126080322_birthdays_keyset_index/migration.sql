-- DropIndex
DROP INDEX "contacts_birthMonth_birthDay_idx";

-- CreateIndex
CREATE INDEX "contacts_birthMonth_birthDay_id_idx" ON "contacts"("birthMonth", "birthDay", "id");
