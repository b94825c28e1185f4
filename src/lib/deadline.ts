/**
 * `work`, or `onTimeout()`'s error once `ms` pass without an answer. The work itself is not
 * cancelled (a Redis command stays in the connection's offline queue and is sent once Redis is back);
 * its later failure is swallowed, as nobody waits for it any more.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
