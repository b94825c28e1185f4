ALTER TABLE "run_items" DROP CONSTRAINT "run_items_status_check";--> statement-breakpoint
CREATE INDEX "run_items_run_id_idx" ON "run_items" USING btree ("run_id","id");--> statement-breakpoint
ALTER TABLE "run_items" ADD CONSTRAINT "run_items_status_check" CHECK ("run_items"."status" in ('pending', 'provisioned', 'would_provision', 'skipped', 'failed', 'cancelled'));