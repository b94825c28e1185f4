-- Migration 0004: fewer index writes per hand-off (each provisioned Account is delivered, its code
-- minted and redeemed, its tokens stored). Statements separated by statement-breakpoint lines.
-- The indexes are rebuilt inside the migration's transaction: writes to these tables wait while it
-- runs (about a second per million rows).
-- outbound_deliveries: nothing reads the pending deliveries by due time across Applications (the
-- claim reads outbound_deliveries_claim_idx), so it was written on every insert and claim for nothing.
DROP INDEX "outbound_deliveries_due_idx";--> statement-breakpoint
-- authorization_codes: the delivery index no longer depends on used_at, and pages keep room for a
-- new row version, so a redemption is an in-place (HOT) update that writes no index.
DROP INDEX "authorization_codes_delivery_idx";--> statement-breakpoint
CREATE INDEX "authorization_codes_delivery_idx" ON "authorization_codes" USING btree ("delivery_id");--> statement-breakpoint
ALTER TABLE "authorization_codes" SET (fillfactor = 85);--> statement-breakpoint
-- tokens: a token has one subject, so each subject index skips the other kind's (null) entries.
DROP INDEX "tokens_account_idx";--> statement-breakpoint
DROP INDEX "tokens_service_account_idx";--> statement-breakpoint
CREATE INDEX "tokens_account_idx" ON "tokens" USING btree ("account_id") WHERE "tokens"."account_id" is not null;--> statement-breakpoint
CREATE INDEX "tokens_service_account_idx" ON "tokens" USING btree ("service_account_id") WHERE "tokens"."service_account_id" is not null;
