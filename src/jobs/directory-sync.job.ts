import { startDirectorySync } from '../services/directory-sync.js';
import type { Handler } from './handler.js';

/** `directory.sync`: starts one directory sync claimed by the sweep — queues its first page. */
export const handleDirectorySync: Handler<'directory.sync'> = async (payload, ctx) =>
  startDirectorySync(ctx.app, payload);
