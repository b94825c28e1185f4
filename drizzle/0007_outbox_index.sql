-- Migration 0007: the outbox index by Application and creation time served no query (the claim reads
-- its own partial index; listings read dead letters): it took an entry on every insert and on both
-- updates of each delivery (a claim and its outcome are not HOT updates).
DROP INDEX "outbound_deliveries_application_idx";