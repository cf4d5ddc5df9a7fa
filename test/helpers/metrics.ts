// Test helper: scrape a gateway's /metrics and read one sample. Imports node:http only.
import http from 'node:http';

export function scrape(httpPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: httpPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('metrics scrape timed out')));
  });
}

/** The value of `name{labels}` (labels as written, e.g. `limit="subscriptions"`), 0 when absent. */
export async function metric(httpPort: number, name: string, labels = ''): Promise<number> {
  const text = await scrape(httpPort);
  const want = labels ? `${name}{${labels}} ` : `${name} `;
  for (const line of text.split('\n')) if (line.startsWith(want)) return Number(line.slice(want.length));
  return 0;
}
