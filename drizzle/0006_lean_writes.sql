-- Migration 0006: fewer checks and index entries per provisioned Account. A foreign key that another
-- key's cascade already implies goes (an Account's Application is its Service Account's; a Profile's
-- Service Account is its Account's; a Calendar's Account is its Profile's; a code's or token's
-- Application is its subject's, an Account or a Service Account, which the new check requires): each
-- was one lookup and row lock per inserted row. The directory index by kind served no query.
ALTER TABLE "accounts" DROP CONSTRAINT "accounts_application_id_applications_id_fk";
--> statement-breakpoint
ALTER TABLE "authorization_codes" DROP CONSTRAINT "authorization_codes_application_id_applications_id_fk";
--> statement-breakpoint
ALTER TABLE "calendars" DROP CONSTRAINT "calendars_account_id_accounts_id_fk";
--> statement-breakpoint
ALTER TABLE "profiles" DROP CONSTRAINT "profiles_service_account_id_service_accounts_id_fk";
--> statement-breakpoint
ALTER TABLE "tokens" DROP CONSTRAINT "tokens_application_id_applications_id_fk";
--> statement-breakpoint
DROP INDEX "directory_entries_sa_kind_idx";--> statement-breakpoint
ALTER TABLE "authorization_codes" ADD CONSTRAINT "authorization_codes_subject_id_check" CHECK (("authorization_codes"."subject_type" = 'account' and "authorization_codes"."account_id" is not null) or ("authorization_codes"."subject_type" = 'service_account' and "authorization_codes"."service_account_id" is not null));