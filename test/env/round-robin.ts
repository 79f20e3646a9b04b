// What a ClusterIP Service does to the admin API's connections, reproduced on loopback: each new TCP
// connection goes to the next endpoint in turn (kube-proxy picks at random, per connection; turns make
// the spread certain instead of likely). Bytes are passed through untouched: TLS ends at the replica.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface RoundRobin {
  url: string;
  /** Connections each endpoint was given, in the order of `ports`. */
  counts: number[];
  close(): Promise<void>;
}

export async function roundRobin(ports: number[], host = '127.0.0.1'): Promise<RoundRobin> {
  const counts = ports.map(() => 0);
  const open = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    const i = next++ % ports.length;
    counts[i]! += 1;
    const upstream = connect(ports[i]!, host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.once('close', () => open.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://${host}:${port}`,
    counts,
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
