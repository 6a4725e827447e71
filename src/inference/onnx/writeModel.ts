// Writes an ONNX model whose weights stream into an external data file while the graph is built.
// Both files are written under temporary names and renamed into place only when complete (data
// first, then the graph that points at it), so a reader never sees half a model and a crash
// leaves only *.tmp-* files behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GraphBuilder, type ExternalDataSink, type GraphBuilderOptions } from './graphBuilder';

/** Appends to a file descriptor synchronously: each weight is released as soon as it is written. */
class FileSink implements ExternalDataSink {
  bytesWritten = 0;
  constructor(
    readonly fileName: string,
    private readonly fd: number,
  ) {}
  write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.byteLength) at += fs.writeSync(this.fd, bytes, at, bytes.byteLength - at);
    this.bytesWritten += bytes.byteLength;
  }
}

export interface StreamedModelResult {
  modelFile: string;
  dataFile: string;
  modelBytes: number;
  dataBytes: number;
  parameterCount: number;
}

/**
 * Builds a graph with `build(g)` and writes `<outFile>` plus `<outFile>_data` (the name optimum
 * uses: `model.onnx` → `model.onnx_data`).
 */
export async function writeStreamedModel(
  outFile: string,
  graphName: string,
  weightType: 'float32' | 'float16',
  build: (g: GraphBuilder) => Promise<void>,
  opts: Omit<GraphBuilderOptions, 'sink'> = {},
): Promise<StreamedModelResult> {
  const dir = path.dirname(outFile);
  fs.mkdirSync(dir, { recursive: true });
  const dataName = `${path.basename(outFile)}_data`;
  const dataFile = path.join(dir, dataName);
  const tag = `.tmp-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  const tmpData = `${dataFile}${tag}`;
  const tmpModel = `${outFile}${tag}`;
  const fd = fs.openSync(tmpData, 'w');
  let closed = false;
  try {
    const sink = new FileSink(dataName, fd);
    const g = new GraphBuilder(graphName, weightType, { ...opts, sink });
    await build(g);
    const built = g.build();
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    fs.writeFileSync(tmpModel, built.model);
    fs.renameSync(tmpData, dataFile);
    fs.renameSync(tmpModel, outFile);
    return { modelFile: outFile, dataFile, modelBytes: built.model.byteLength, dataBytes: sink.bytesWritten, parameterCount: built.parameterCount };
  } catch (err) {
    if (!closed) fs.closeSync(fd);
    fs.rmSync(tmpData, { force: true });
    fs.rmSync(tmpModel, { force: true });
    throw err;
  }
}
