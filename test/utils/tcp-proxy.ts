import { Server, Socket, connect, createServer } from 'node:net';

/**
 * A TCP proxy between the app and Postgres or Redis: cutting it is, for the
 * app, that service going away (every connection drops, new ones are refused),
 * while the real server (shared with other suites) stays up.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  get url(): string {
    const url = new URL(this.target.toString());
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.target.port), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /**
   * Drops every connection and refuses new ones until `start()`. With `reset`, each connection is
   * reset (TCP RST) instead of closed: the app's socket errors with ECONNRESET, as when a host or a
   * firewall in between goes away, rather than seeing the end of its stream.
   */
  async cut({ reset = false }: { reset?: boolean } = {}): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    for (const socket of this.sockets) {
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    await closed;
  }
}
