CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"service_account_id" text NOT NULL,
	"directory_entry_id" text,
	"kind" text NOT NULL,
	"email" text NOT NULL,
	"email_lower" text NOT NULL,
	"name" text NOT NULL,
	"scope" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_kind_check" CHECK ("accounts"."kind" in ('user', 'room', 'shared_mailbox')),
	CONSTRAINT "accounts_status_check" CHECK ("accounts"."status" in ('active', 'revoked')),
	CONSTRAINT "accounts_email_lower_check" CHECK ("accounts"."email_lower" = lower("accounts"."email"))
);
--> statement-breakpoint
CREATE TABLE "application_secrets" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"secret_hash" text NOT NULL,
	"secret_encrypted" text NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "application_secrets_secret_hash_unique" UNIQUE("secret_hash")
);
--> statement-breakpoint
CREATE TABLE "applications" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"client_id" text NOT NULL,
	"redirect_uris" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "applications_client_id_unique" UNIQUE("client_id")
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "authorization_codes" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"code_hash" text NOT NULL,
	"subject_type" text NOT NULL,
	"account_id" text,
	"service_account_id" text,
	"redirect_uri" text NOT NULL,
	"scope" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "authorization_codes_code_hash_unique" UNIQUE("code_hash"),
	CONSTRAINT "authorization_codes_subject_check" CHECK ("authorization_codes"."subject_type" in ('account', 'service_account'))
);
--> statement-breakpoint
CREATE TABLE "calendars" (
	"id" text PRIMARY KEY NOT NULL,
	"profile_id" text NOT NULL,
	"account_id" text NOT NULL,
	"provider_calendar_id" text NOT NULL,
	"name" text NOT NULL,
	"readonly" boolean DEFAULT false NOT NULL,
	"is_primary" boolean DEFAULT false NOT NULL,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"account_id" text NOT NULL,
	"callback_url" text NOT NULL,
	"closed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "directory_entries" (
	"id" text PRIMARY KEY NOT NULL,
	"service_account_id" text NOT NULL,
	"kind" text NOT NULL,
	"email" text NOT NULL,
	"email_lower" text NOT NULL,
	"provider_id" text NOT NULL,
	"name" text NOT NULL,
	"suspended" boolean DEFAULT false NOT NULL,
	"has_mailbox" boolean DEFAULT true NOT NULL,
	"capacity" integer,
	"building" text,
	"floor" text,
	"resource_type" text,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "directory_entries_kind_check" CHECK ("directory_entries"."kind" in ('user', 'room', 'shared_mailbox'))
);
--> statement-breakpoint
CREATE TABLE "outbound_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"kind" text NOT NULL,
	"url" text NOT NULL,
	"body_encrypted" text NOT NULL,
	"run_id" text,
	"account_id" text,
	"channel_id" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status_code" integer,
	"last_error" text,
	"next_attempt_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"dead_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "outbound_deliveries_kind_check" CHECK ("outbound_deliveries"."kind" in ('callback', 'notification')),
	CONSTRAINT "outbound_deliveries_status_check" CHECK ("outbound_deliveries"."status" in ('pending', 'delivered', 'dead'))
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"service_account_id" text NOT NULL,
	"provider" text NOT NULL,
	"provider_profile_id" text NOT NULL,
	"profile_name" text NOT NULL,
	"connected" boolean DEFAULT true NOT NULL,
	"disconnect_reason" text,
	"disconnected_at" timestamp with time zone,
	"failure_count" integer DEFAULT 0 NOT NULL,
	"last_checked_at" timestamp with time zone,
	"next_check_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profiles_account_id_unique" UNIQUE("account_id"),
	CONSTRAINT "profiles_provider_check" CHECK ("profiles"."provider" in ('google', 'microsoft')),
	CONSTRAINT "profiles_disconnect_reason_check" CHECK ("profiles"."connected" or "profiles"."disconnect_reason" is not null)
);
--> statement-breakpoint
CREATE TABLE "provisioning_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"service_account_id" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"include" text[] NOT NULL,
	"verify" text DEFAULT 'mailbox' NOT NULL,
	"dry_run" boolean DEFAULT false NOT NULL,
	"callback_url" text,
	"scope" text NOT NULL,
	"state" text,
	"cursor" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"listed" integer DEFAULT 0 NOT NULL,
	"provisioned" integer DEFAULT 0 NOT NULL,
	"skipped" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"error" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "provisioning_runs_status_check" CHECK ("provisioning_runs"."status" in ('queued', 'listing', 'provisioning', 'completed', 'completed_with_errors', 'cancelled', 'failed')),
	CONSTRAINT "provisioning_runs_verify_check" CHECK ("provisioning_runs"."verify" in ('mailbox', 'directory')),
	CONSTRAINT "provisioning_runs_counts_check" CHECK ("provisioning_runs"."listed" >= 0 and "provisioning_runs"."provisioned" >= 0 and "provisioning_runs"."skipped" >= 0 and "provisioning_runs"."failed" >= 0)
);
--> statement-breakpoint
CREATE TABLE "run_items" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"directory_entry_id" text,
	"kind" text NOT NULL,
	"email" text NOT NULL,
	"email_lower" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"error_key" text,
	"error_description" text,
	"account_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_items_status_check" CHECK ("run_items"."status" in ('pending', 'provisioned', 'skipped', 'failed', 'cancelled')),
	CONSTRAINT "run_items_kind_check" CHECK ("run_items"."kind" in ('user', 'room', 'shared_mailbox'))
);
--> statement-breakpoint
CREATE TABLE "service_accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"provider" text NOT NULL,
	"domain" text NOT NULL,
	"admin_email" text,
	"tenant_id" text,
	"provider_client_id" text NOT NULL,
	"credentials_encrypted" text NOT NULL,
	"credential_expires_at" timestamp with time zone,
	"scope" text NOT NULL,
	"delegated_scope" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"broken_reason" text,
	"broken_since" timestamp with time zone,
	"last_error" text,
	"auto_provision" boolean DEFAULT false NOT NULL,
	"quota_overrides" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_directory_sync_at" timestamp with time zone,
	"next_directory_sync_at" timestamp with time zone,
	"failure_count" integer DEFAULT 0 NOT NULL,
	"next_health_check_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "service_accounts_provider_check" CHECK ("service_accounts"."provider" in ('google', 'microsoft')),
	CONSTRAINT "service_accounts_status_check" CHECK ("service_accounts"."status" in ('active', 'broken', 'revoked'))
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"kind" text NOT NULL,
	"subject_type" text NOT NULL,
	"account_id" text,
	"service_account_id" text,
	"grant_id" text NOT NULL,
	"token_hash" text NOT NULL,
	"scope" text NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tokens_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "tokens_kind_check" CHECK ("tokens"."kind" in ('access', 'refresh')),
	CONSTRAINT "tokens_subject_check" CHECK ("tokens"."subject_type" in ('account', 'service_account')),
	CONSTRAINT "tokens_subject_id_check" CHECK (("tokens"."subject_type" = 'account' and "tokens"."account_id" is not null) or ("tokens"."subject_type" = 'service_account' and "tokens"."service_account_id" is not null))
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_directory_entry_id_directory_entries_id_fk" FOREIGN KEY ("directory_entry_id") REFERENCES "public"."directory_entries"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "application_secrets" ADD CONSTRAINT "application_secrets_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "authorization_codes" ADD CONSTRAINT "authorization_codes_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "authorization_codes" ADD CONSTRAINT "authorization_codes_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "authorization_codes" ADD CONSTRAINT "authorization_codes_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calendars" ADD CONSTRAINT "calendars_profile_id_profiles_id_fk" FOREIGN KEY ("profile_id") REFERENCES "public"."profiles"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calendars" ADD CONSTRAINT "calendars_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "directory_entries" ADD CONSTRAINT "directory_entries_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outbound_deliveries" ADD CONSTRAINT "outbound_deliveries_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provisioning_runs" ADD CONSTRAINT "provisioning_runs_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provisioning_runs" ADD CONSTRAINT "provisioning_runs_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_items" ADD CONSTRAINT "run_items_run_id_provisioning_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."provisioning_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_items" ADD CONSTRAINT "run_items_directory_entry_id_directory_entries_id_fk" FOREIGN KEY ("directory_entry_id") REFERENCES "public"."directory_entries"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_items" ADD CONSTRAINT "run_items_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "service_accounts" ADD CONSTRAINT "service_accounts_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_service_account_id_service_accounts_id_fk" FOREIGN KEY ("service_account_id") REFERENCES "public"."service_accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_sa_email_uq" ON "accounts" USING btree ("service_account_id","email_lower");--> statement-breakpoint
CREATE INDEX "accounts_application_idx" ON "accounts" USING btree ("application_id");--> statement-breakpoint
CREATE INDEX "application_secrets_application_idx" ON "application_secrets" USING btree ("application_id");--> statement-breakpoint
CREATE INDEX "audit_events_subject_idx" ON "audit_events" USING btree ("subject_id","created_at");--> statement-breakpoint
CREATE INDEX "audit_events_created_idx" ON "audit_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "authorization_codes_expiry_idx" ON "authorization_codes" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "calendars_profile_provider_uq" ON "calendars" USING btree ("profile_id","provider_calendar_id");--> statement-breakpoint
CREATE INDEX "calendars_account_idx" ON "calendars" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "channels_account_idx" ON "channels" USING btree ("account_id");--> statement-breakpoint
CREATE UNIQUE INDEX "directory_entries_sa_email_uq" ON "directory_entries" USING btree ("service_account_id","email_lower");--> statement-breakpoint
CREATE INDEX "directory_entries_sa_kind_idx" ON "directory_entries" USING btree ("service_account_id","kind","email_lower");--> statement-breakpoint
CREATE INDEX "outbound_deliveries_due_idx" ON "outbound_deliveries" USING btree ("next_attempt_at") WHERE "outbound_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "outbound_deliveries_dead_idx" ON "outbound_deliveries" USING btree ("dead_at") WHERE "outbound_deliveries"."status" = 'dead';--> statement-breakpoint
CREATE INDEX "outbound_deliveries_application_idx" ON "outbound_deliveries" USING btree ("application_id","created_at");--> statement-breakpoint
CREATE INDEX "profiles_connected_due_idx" ON "profiles" USING btree ("next_check_at") WHERE "profiles"."connected" and "profiles"."next_check_at" is not null;--> statement-breakpoint
CREATE INDEX "profiles_disconnected_due_idx" ON "profiles" USING btree ("next_check_at") WHERE not "profiles"."connected" and "profiles"."next_check_at" is not null;--> statement-breakpoint
CREATE INDEX "profiles_service_account_idx" ON "profiles" USING btree ("service_account_id","connected");--> statement-breakpoint
CREATE INDEX "provisioning_runs_sa_idx" ON "provisioning_runs" USING btree ("service_account_id","created_at");--> statement-breakpoint
CREATE INDEX "provisioning_runs_active_idx" ON "provisioning_runs" USING btree ("updated_at") WHERE "provisioning_runs"."status" in ('queued', 'listing', 'provisioning');--> statement-breakpoint
CREATE UNIQUE INDEX "run_items_run_email_uq" ON "run_items" USING btree ("run_id","email_lower");--> statement-breakpoint
CREATE INDEX "run_items_run_status_idx" ON "run_items" USING btree ("run_id","status","id");--> statement-breakpoint
CREATE INDEX "service_accounts_application_idx" ON "service_accounts" USING btree ("application_id");--> statement-breakpoint
CREATE INDEX "service_accounts_sync_due_idx" ON "service_accounts" USING btree ("next_directory_sync_at") WHERE "service_accounts"."status" = 'active';--> statement-breakpoint
CREATE INDEX "service_accounts_broken_due_idx" ON "service_accounts" USING btree ("next_health_check_at") WHERE "service_accounts"."status" = 'broken';--> statement-breakpoint
CREATE INDEX "tokens_grant_idx" ON "tokens" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "tokens_account_idx" ON "tokens" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "tokens_service_account_idx" ON "tokens" USING btree ("service_account_id");--> statement-breakpoint
CREATE INDEX "tokens_expiry_idx" ON "tokens" USING btree ("expires_at") WHERE "tokens"."expires_at" is not null;