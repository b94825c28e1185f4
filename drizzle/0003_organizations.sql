-- Migration 0003: selections, credentials changed in place, diagnostics and credential expiry, run
-- charts and audit paging, refused directory entries. Statements separated by statement-breakpoint lines.
-- service account settings (credentials change in place)
ALTER TABLE "service_accounts" ADD COLUMN "removal_delay_seconds" integer DEFAULT 604800 NOT NULL;
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD CONSTRAINT "service_accounts_removal_delay_check" CHECK ("service_accounts"."removal_delay_seconds" >= 0);
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "credential_changed_at" timestamp with time zone;
--> statement-breakpoint
-- admin pictures, failures and audit
CREATE TABLE "run_provider_calls" (
	"run_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"api" text NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "run_provider_calls_run_id_at_api_pk" PRIMARY KEY("run_id","at","api")
);
--> statement-breakpoint
ALTER TABLE "run_provider_calls" ADD CONSTRAINT "run_provider_calls_run_id_provisioning_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."provisioning_runs"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE TABLE "profile_state_days" (
	"service_account_id" text NOT NULL,
	"day" date NOT NULL,
	"connected" integer DEFAULT 0 NOT NULL,
	"disconnected" integer DEFAULT 0 NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profile_state_days_service_account_id_day_pk" PRIMARY KEY("service_account_id","day")
);
--> statement-breakpoint
ALTER TABLE "profile_state_days" ADD CONSTRAINT "profile_state_days_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "run_items_failed_idx" ON "run_items" USING btree ("run_id","id") WHERE "run_items"."status" = 'failed';
--> statement-breakpoint
CREATE INDEX "audit_events_application_idx" ON "audit_events" USING btree ("application_id","created_at","id");
--> statement-breakpoint
-- doctor and credential expiry
ALTER TABLE "service_accounts" ADD COLUMN "notification_url" text;
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "provider_credential_expires_at" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "credential_expiry_read_at" timestamp with time zone;
--> statement-breakpoint
-- selections (onboard part of an organization)
ALTER TABLE "provisioning_runs" ADD COLUMN "selection" jsonb;
--> statement-breakpoint
ALTER TABLE "service_accounts" ADD COLUMN "selection" jsonb;
--> statement-breakpoint
CREATE TABLE "selection_emails" (
	"owner_id" text NOT NULL,
	"service_account_id" text NOT NULL,
	"email_lower" text NOT NULL,
	"email" text NOT NULL,
	CONSTRAINT "selection_emails_owner_id_email_lower_pk" PRIMARY KEY("owner_id","email_lower")
);
--> statement-breakpoint
ALTER TABLE "selection_emails" ADD CONSTRAINT "selection_emails_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "selection_emails_service_account_idx" ON "selection_emails" USING btree ("service_account_id");
