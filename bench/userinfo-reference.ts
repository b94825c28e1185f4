/**
 * The userinfo bench's reference: a Fastify route doing one primary-key select of an Account, in its
 * own process (as `ec api` is), on the same database. Prints `listening <url>` once ready.
 */
import Fastify from 'fastify';
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL ?? '', { max: 10, onnotice: () => {} });
const app = Fastify({ logger: false });
app.get<{ Params: { id: string } }>('/ref/:id', async (req, reply) => {
  const [row] = await sql`select id, email, name from accounts where id = ${req.params.id}`;
  if (!row) {
    return reply.code(404).send({ error: 'not_found' });
  }
  return { sub: row.id, email: row.email, name: row.name };
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening ${url}\n`);
