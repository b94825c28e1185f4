-- Migration 0009: the Account index by Application served no query (an Account is always found by its
-- id or by Service Account and email; an Application's deletion reaches its Accounts through its
-- Service Accounts): it took an entry on every provisioned Account.
DROP INDEX "accounts_application_idx";
