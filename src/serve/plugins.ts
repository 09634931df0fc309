// Fastify plugins every service registers (src/serve/server.ts, registerPlugins), each called
// with `{ service }` as its options: the web page's plugin (src/web/plugin.ts) is added here.
import type { FastifyPluginAsync } from 'fastify';
import type { Service } from './server.ts';
import { webPlugin } from '../web/plugin.ts';

export type ServicePlugin = FastifyPluginAsync<{ service: Service }>;

export const SERVICE_PLUGINS: ServicePlugin[] = [webPlugin];
