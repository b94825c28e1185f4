import { deleteOldRecords } from '../services/retention.js';
import type { Handler } from './handler.js';

/** `records.retention`, daily: deletes delivered deliveries, finished runs' items and old audit events. */
export const handleRecordsRetention: Handler<'records.retention'> = async (_payload, ctx) => {
  const deleted = await deleteOldRecords(ctx.app, { signal: ctx.signal });
  ctx.logger.info(deleted, 'old records deleted');
};
