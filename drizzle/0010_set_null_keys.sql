-- Migration 0010: drop the three keys whose only action was to null a reference to a directory entry or
-- an Account when that row is deleted. Neither is ever deleted except with its Service Account, which
-- deletes the Accounts and runs (and so the run items) that refer to it: the keys only cost a lookup
-- and a row lock each time a run item is listed or provisioned and each time an Account is written
-- (about 2.7 per provisioned Account). A reference left by a manual delete reads as none, as before.
ALTER TABLE "accounts" DROP CONSTRAINT "accounts_directory_entry_id_directory_entries_id_fk";
--> statement-breakpoint
ALTER TABLE "run_items" DROP CONSTRAINT "run_items_directory_entry_id_directory_entries_id_fk";
--> statement-breakpoint
ALTER TABLE "run_items" DROP CONSTRAINT "run_items_account_id_accounts_id_fk";
