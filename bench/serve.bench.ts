// `marble serve` figures: POST /prompt and GET /history requests per second, websocket fan-out
// to 20 clients, and memory over rounds of 200 prompts (server heap/RSS and the inference child's
// RSS). Loopback only, bounded loops, on the generated tiny model.
// Run: node --import tsx bench/serve.bench.ts [--write BENCHMARKS.md]
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { getJson, makeWorkspace, postJson, removeBundle, startServer, tinyPrompt, WsRecorder } from '../test/unit/server/harness';

function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function pool<T>(n: number, concurrency: number, task: (i: number) => Promise<T>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await task(next++);
  }));
  return performance.now() - start;
}

async function waitEmpty(url: string): Promise<void> {
  for (;;) {
    const q = (await getJson(`${url}/queue`)).body;
    if (q.queue_running.length + q.queue_pending.length === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const ws = makeWorkspace();
  const { server, url } = await startServer(ws, { log: (l) => console.error('[server]', l), engine: { modelsRoots: [ws.models], outputDir: ws.output, inputDir: ws.input, tempDir: ws.temp, ep: 'cpu', memoryBudgetMB: 0, previews: false } });
  const rows: [string, string, string][] = [];
  try {
    // Warm up: one run loads the model in the child.
    const warm = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 1 }) });
    await waitEmpty(url);
    void warm;

    // (a) POST /prompt: validation happens in the child; the worker is held by a long prompt so
    // the accepted prompts only queue, then the queue is cleared.
    const blocker = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 5000 }) });
    const N = 300;
    const tPost = await pool(N, 8, async (i) => {
      const r = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: i }) });
      if (r.status !== 200) throw new Error(JSON.stringify(r.body));
    });
    await postJson(`${url}/queue`, { clear: true });
    await postJson(`${url}/interrupt`, { prompt_id: blocker.body.prompt_id });
    await waitEmpty(url);
    // Validation alone, engine idle: prompts refused with 400 (nothing queued).
    const bad = tinyPrompt();
    bad['3'].inputs.steps = 0;
    const R = 300;
    const tBad = await pool(R, 8, async () => {
      const r = await postJson(`${url}/prompt`, { prompt: bad });
      if (r.status !== 400) throw new Error(`expected 400, got ${r.status}`);
    });
    rows.push(['POST /prompt refused by validation (engine idle, 8 concurrent)', `${(R / (tBad / 1000)).toFixed(0)} req/s`, `${R} requests in ${tBad.toFixed(0)} ms`]);
    rows.push(['POST /prompt accepted (8 concurrent, while a prompt runs)', `${(N / (tPost / 1000)).toFixed(0)} req/s`, `${N} requests in ${tPost.toFixed(0)} ms`]);

    // Fill the history with 200 runs (also the first memory round).
    const mem: string[] = [];
    const snapshot = (label: string) => {
      const m = process.memoryUsage();
      mem.push(`${label}: server heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MiB, RSS ${(m.rss / 2 ** 20).toFixed(0)} MiB; child RSS ${rssOf(server.engine.pid).toFixed(0)} MiB`);
    };
    snapshot('after warm-up');
    for (let round = 1; round <= 3; round++) {
      await pool(200, 4, async (i) => { await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 1, seed: round * 1000 + i }), client_id: `c${i % 4}` }); });
      await waitEmpty(url);
      (globalThis as { gc?: () => void }).gc?.();
      snapshot(`after round ${round} (${round * 200} prompts)`);
    }
    const historySize = Object.keys((await getJson(`${url}/history`)).body).length;
    // (b) GET /history with ~600 entries, and GET /history/{id}.
    const H = 300;
    const tHist = await pool(H, 8, async () => { await getJson(`${url}/history`); });
    rows.push([`GET /history (${historySize} entries, 8 concurrent)`, `${(H / (tHist / 1000)).toFixed(0)} req/s`, `${H} requests in ${tHist.toFixed(0)} ms`]);
    const tMax = await pool(H, 8, async () => { await getJson(`${url}/history?max_items=20`); });
    rows.push(['GET /history?max_items=20 (8 concurrent)', `${(H / (tMax / 1000)).toFixed(0)} req/s`, `${H} requests in ${tMax.toFixed(0)} ms`]);
    const ids = Object.keys((await getJson(`${url}/history`)).body);
    const H2 = 2000;
    const tOne = await pool(H2, 8, async (i) => { await getJson(`${url}/history/${ids[i % ids.length]}`); });
    rows.push(['GET /history/{id} (8 concurrent)', `${(H2 / (tOne / 1000)).toFixed(0)} req/s`, `${H2} requests in ${tOne.toFixed(0)} ms`]);

    // (c) Fan-out: 20 sockets; a prompt without client_id broadcasts its progress to all.
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => WsRecorder.open(url, `fan-${i}`)));
    const lat: number[] = [];
    for (let k = 0; k < 20; k++) {
      const r = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 1, seed: 50_000 + k }) });
      const t0 = performance.now();
      await Promise.all(clients.map((c) => c.waitFor((m) => m.type === 'progress' && m.data.prompt_id === r.body.prompt_id, 'fan-out progress')));
      lat.push(performance.now() - t0);
      await waitEmpty(url);
    }
    const statuses = await (async () => {
      // Status broadcasts: from POST to all 20 sockets holding the status it caused.
      const before = clients.map((c) => c.texts.length);
      const t0 = performance.now();
      await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 1, seed: 60_000 }) });
      await Promise.all(clients.map((c, i) => c.waitFor((m) => m.type === 'status' && c.texts.indexOf(m) >= before[i], 'status')));
      return performance.now() - t0;
    })();
    await waitEmpty(url);
    rows.push(['websocket fan-out: POST → progress on all 20 sockets (median of 20)', `${median(lat).toFixed(1)} ms`, 'includes validation, queueing and the 1-step run up to its first progress']);
    rows.push(['websocket fan-out: POST → status on all 20 sockets', `${statuses.toFixed(1)} ms`, 'one sample']);
    await Promise.all(clients.map((c) => c.close()));

    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const block = [
      `marble serve benchmark — ${new Date().toISOString()}`,
      `Machine: ${os.cpus().length} CPUs, ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version} (${process.platform}/${process.arch}); loopback; tiny generated model, 64×64, previews off`,
      '',
      '| measure | value | note |',
      '|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
      '',
      'Memory over rounds of 200 prompts (4 clients):',
      '',
      ...mem.map((m) => `- ${m}`),
    ].join('\n');
    console.log(block);
    const i = process.argv.indexOf('--write');
    if (i > 0) {
      const file = process.argv[i + 1] ?? 'BENCHMARKS.md';
      const text = readFileSync(file, 'utf8');
      const start = '<!-- bench:serve:start -->', end = '<!-- bench:serve:end -->';
      const replaced = text.includes(start)
        ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), `${start}\n${block}\n${end}`)
        : `${text.trimEnd()}\n\n## marble serve\n\nReproduce with \`npm run build && node --expose-gc --import tsx bench/serve.bench.ts --write BENCHMARKS.md\`.\n\n${start}\n${block}\n${end}\n`;
      writeFileSync(file, replaced);
    }
  } finally {
    await server.close();
    ws.remove();
    removeBundle();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
