// Download throughput of src/download on loopback: a node:http server on 127.0.0.1 serves one
// in-memory .safetensors file of --mb MiB (default 256); downloadModel fetches it into a temp
// folder (writes, SHA-256 over every byte, header check, rename) --runs times (default 3).
// Run: node --import tsx bench/download.bench.ts [--mb N] [--runs N]
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadModel } from '../src/download/downloadModel';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function main(): Promise<void> {
  const mb = arg('mb', 256);
  const runs = arg('runs', 3);
  const dataBytes = mb * 1024 * 1024;
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [dataBytes], data_offsets: [0, dataBytes] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(dataBytes);
  for (let i = 0; i < dataBytes; i += 4096) data[i] = i & 0xff;
  const body = Buffer.concat([len, header, data]);
  const sha = createHash('sha256').update(body).digest('hex');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.length, etag: '"bench"' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bench.safetensors`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'marble-dl-bench-'));
  console.log(`Download bench ${new Date().toISOString()}: ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; ${mb} MiB over loopback, SHA-256 verified`);
  try {
    for (let i = 0; i < runs; i++) {
      const folder = path.join(dir, `run${i}`);
      const t0 = performance.now();
      const r = await downloadModel({ url, folder, sha256: sha });
      const secs = (performance.now() - t0) / 1000;
      console.log(`  run ${i + 1}: ${(r.bytes / 1048576).toFixed(0)} MiB in ${secs.toFixed(2)} s = ${(r.bytes / 1048576 / secs).toFixed(0)} MiB/s (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
      rmSync(folder, { recursive: true, force: true });
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
