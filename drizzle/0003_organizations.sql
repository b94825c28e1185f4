-- Migration 0003: this session's schema changes. Each area appends its own block below, statements
-- separated by statement-breakpoint lines.
SELECT 1;
--> statement-breakpoint
-- service account settings (credentials change in place)
ALTER TABLE "service_accounts" ADD COLUMN "removal_delay_seconds" integer DEFAULT 604800 NOT NULL;
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD CONSTRAINT "service_accounts_removal_delay_check" CHECK ("service_accounts"."removal_delay_seconds" >= 0);
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "credential_changed_at" timestamp with time zone;
