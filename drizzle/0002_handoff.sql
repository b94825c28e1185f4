CREATE TABLE "authorization_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"service_account_id" text NOT NULL,
	"email" text NOT NULL,
	"callback_url" text NOT NULL,
	"scope" text NOT NULL,
	"state" text,
	"request_key" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "authorization_requests_status_check" CHECK ("authorization_requests"."status" in ('pending', 'done'))
);
--> statement-breakpoint
ALTER TABLE "outbound_deliveries" DROP CONSTRAINT "outbound_deliveries_status_check";--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "rate_limit_per_minute" integer;--> statement-breakpoint
ALTER TABLE "authorization_codes" ADD COLUMN "delivery_id" text;--> statement-breakpoint
ALTER TABLE "outbound_deliveries" ADD COLUMN "code_scope" text;--> statement-breakpoint
ALTER TABLE "authorization_requests" ADD CONSTRAINT "authorization_requests_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "authorization_requests" ADD CONSTRAINT "authorization_requests_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "authorization_requests_key_idx" ON "authorization_requests" USING btree ("request_key","created_at");--> statement-breakpoint
CREATE INDEX "authorization_requests_pending_idx" ON "authorization_requests" USING btree ("updated_at") WHERE "authorization_requests"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "authorization_codes_delivery_idx" ON "authorization_codes" USING btree ("delivery_id") WHERE "authorization_codes"."used_at" is null;--> statement-breakpoint
CREATE INDEX "outbound_deliveries_claim_idx" ON "outbound_deliveries" USING btree ("application_id","next_attempt_at") WHERE "outbound_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "outbound_deliveries_run_pending_idx" ON "outbound_deliveries" USING btree ("run_id") WHERE "outbound_deliveries"."status" = 'pending';--> statement-breakpoint
ALTER TABLE "outbound_deliveries" ADD CONSTRAINT "outbound_deliveries_status_check" CHECK ("outbound_deliveries"."status" in ('pending', 'delivered', 'dead', 'cancelled'));