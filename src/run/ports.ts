/** Ports of this machine's loopback address, for the services of a run. */
import { createServer } from 'node:net';

/** Whether nothing listens on 127.0.0.1:`port` now (a later listener may still take it). */
export function isLoopbackPortFree(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
