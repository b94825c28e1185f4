import { spawn } from 'node:child_process';

/**
 * Runs a TypeScript script in its own Node process (a second worker, or a clean heap to measure),
 * handing it `input` as JSON in the environment variable `envName`; resolves with the JSON object
 * it prints on its last line of stdout.
 */
export function runJsonChild<I, O>(
  script: string,
  envName: string,
  input: I,
  nodeArgs: string[] = [],
): Promise<O> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
      env: { ...process.env, [envName]: JSON.stringify(input), NO_PROXY: '127.0.0.1,localhost' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`${script} exited ${code}: ${err.slice(-2000)}`));
      } else {
        resolve(JSON.parse(line) as O);
      }
    });
  });
}
