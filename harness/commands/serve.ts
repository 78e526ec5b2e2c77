// `undertow serve [--store DIR] [--port N] [--host 127.0.0.1]`: the results
// browser. Serves the store's runs on a loopback address only (a store holds
// node logs and histories: not for the network), until Ctrl-C.

import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import { isIP } from 'node:net';
import type { CommandModule } from 'yargs';
import { InputError } from '../../history/input-error.js';
import { createServeHandler } from '../../results/serve.js';
import { DEFAULT_STORE } from '../../results/store.js';

interface ServeArgs {
  store: string;
  port: number;
  host: string;
}

export const DEFAULT_PORT = 8080;

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

export function serveCommand(): CommandModule<object, ServeArgs> {
  return {
    command: 'serve',
    describe: "Browse the store's runs in a web browser: every run with its verdict, its report and its files",
    builder: (y) =>
      y
        .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'the store folder' })
        .option('port', { type: 'number', default: DEFAULT_PORT, describe: 'TCP port; 0 picks a free one' })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'a loopback address to listen on' })
        .example('$0 serve --port 0', 'serve ./store on a free port and print its URL'),
    handler: async (args) => {
      if (!isLoopback(args.host)) {
        throw new InputError(
          `--host ${args.host} is not a loopback address: the results browser only listens on this machine`,
          {},
          'use --host 127.0.0.1 (the default) or ::1',
        );
      }
      if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
        throw new InputError(`--port must be a whole number from 0 to 65535, got ${args.port}`, {}, 'use 0 for any free port');
      }
      let isDir = false;
      try {
        isDir = statSync(args.store).isDirectory();
      } catch {
        // reported below
      }
      if (!isDir) throw new InputError(`no store at ${args.store}`, {}, 'run undertow test first, or name the store with --store DIR');

      const server = createServer(createServeHandler(args.store));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EADDRINUSE')
            reject(new InputError(`port ${args.port} on ${args.host} is in use`, {}, 'pick another with --port, or --port 0 for any free one'));
          else if (e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES')
            reject(new InputError(`cannot listen on ${args.host}:${args.port} (${e.code})`, {}, 'use --host 127.0.0.1 and a port above 1023'));
          else reject(e);
        });
        server.listen(args.port, args.host, resolve);
      });
      const address = server.address();
      const port = address !== null && typeof address === 'object' ? address.port : args.port;
      const host = isIP(args.host) === 6 ? `[${args.host}]` : args.host;
      process.stdout.write(`undertow: serving ${args.store} at http://${host}:${port}/ (Ctrl-C stops)\n`);

      // Until Ctrl-C (or a TERM): then stop listening, drop open keep-alive
      // connections, and return, so the process exits 0 by itself.
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          server.close(() => resolve());
          server.closeAllConnections();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      process.stdout.write('undertow: stopped\n');
    },
  };
}
