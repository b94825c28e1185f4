-- Migration 0003: this session's schema changes. Each area appends its own block below, statements
-- separated by statement-breakpoint lines.
SELECT 1;
