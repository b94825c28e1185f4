import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));

export type CliResult = { code: number; stdout: string; stderr: string };

/** Runs `ec …` as a separate process, with only the given environment (plus PATH/HOME). */
export function runEc(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [EC, ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          NO_PROXY: '127.0.0.1,localhost',
          ...env,
        },
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
