-- Migration 0005: deliveries count their claims, so a callback's first claim skips expiring earlier
-- codes (it has handed out none). Statements separated by statement-breakpoint lines.
ALTER TABLE "outbound_deliveries" ADD COLUMN "claims" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Pending deliveries from before may have been claimed already: their next claim expires as before.
UPDATE "outbound_deliveries" SET "claims" = 1 WHERE "status" = 'pending';
