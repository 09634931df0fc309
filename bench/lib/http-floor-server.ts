// The HTTP floor of bench/serve.ts: a bare fastify server that takes the same classify requests as
// `nnlock serve` (a PNG body read as a buffer) and answers a fixed JSON of the same shape, without
// decoding, checking credentials or running a model. Loaded by the same generator, its CPU per
// request is what HTTP on loopback costs on this machine before nnlock does anything: the part of
// the served cost that batching cannot remove when every request carries one image.
//   node --import tsx bench/lib/http-floor-server.ts   (prints {"address": ...} once listening)
import Fastify from 'fastify';

const answer = {
  model: 'resnet',
  tier: 0,
  top: ['cat', 'dog', 'deer', 'frog', 'bird'].map((c, i) => ({ class: c, index: i, probability: 0.5 / (i + 1) })),
};

const app = Fastify({ logger: false });
app.addContentTypeParser(['image/png', 'image/jpeg'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
// The request's X-Request-Id back, as nnlock serve answers it (wrk pairs answers with requests by it).
app.post('/v1/models/:name/classify', async (req, reply) => {
  reply.header('x-request-id', req.headers['x-request-id'] ?? '');
  return answer;
});
// What bench/serve.ts reads between phases: no batches, nothing queued.
app.get('/metrics', async () => 'nnlock_queued_images 0\n');
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ address })}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
