/**
 * Sends `query` at once as its transaction's last statement, without waiting for its answer: the
 * transaction's COMMIT, sent as soon as the transaction's function returns, follows it on the
 * connection in the same round trip. A row the statement locks (a counter many transactions add
 * to) is then held only while Postgres runs the two, never while this process's event loop gets
 * round to reading the answer and sending COMMIT. If the statement fails, COMMIT rolls the whole
 * transaction back. Await the answer once the transaction has returned: it says which happened.
 *
 * `query` must not have been awaited or started: `then` is called here, synchronously, which is
 * what sends a drizzle (or postgres.js) query.
 */
export function sendWithCommit<T>(query: PromiseLike<T>): Promise<T> {
  const answer = new Promise<T>((resolve, reject) => {
    query.then(resolve, reject);
  });
  // Awaited by the caller after the transaction; one that failed first never awaits it.
  answer.catch(() => {});
  return answer;
}
