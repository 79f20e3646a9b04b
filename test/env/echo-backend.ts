// The service behind the test gateway: it answers with the identity headers it was given, so a test
// sees exactly what a real service would trust.
import { createServer, type Server } from 'node:http';

export interface EchoBackend {
  url: string;
  server: Server;
  close: () => Promise<void>;
}

export async function startEchoBackend(): Promise<EchoBackend> {
  const server = createServer((req, res) => {
    const seen: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (k.startsWith('x-kubeusers-') || k.startsWith('x-client-certificate')) seen[k] = String(v);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, headers: seen }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
