// ONNX Runtime's side of bench/vs_ort.py: times one model the way `kerasrt bench` does (load, first
// call, warm-up, timed runs, medians) through the onnxruntime-node binding, in its own process.
//
//   node ort_runner.js ORT_PACKAGE_DIR MODEL.onnx INPUTS_DIR THREADS RUNS WARMUP
//
// INPUTS_DIR holds inputs.json ([{file, dtype, shape}] in model input order) and the raw arrays it
// names, already at the benchmark's batch. Prints one JSON object with the same keys as
// `kerasrt bench --json`.
'use strict';
const fs = require('fs');
const path = require('path');

const [ortDir, modelPath, inputsDir, threadsArg, runsArg, warmupArg] = process.argv.slice(2);
const ort = require(ortDir);
const threads = Number(threadsArg), runs = Number(runsArg), warmup = Number(warmupArg);

const typed = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

(async () => {
  const tLoad = nowMs();
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadS = (nowMs() - tLoad) / 1000;

  const specs = JSON.parse(fs.readFileSync(path.join(inputsDir, 'inputs.json'), 'utf8'));
  if (specs.length !== session.inputNames.length)
    throw new Error(`${modelPath}: takes ${session.inputNames.length} inputs, ${specs.length} given`);
  const feeds = {};
  specs.forEach((spec, i) => {
    const bytes = fs.readFileSync(path.join(inputsDir, spec.file));
    const Array_ = typed[spec.dtype];
    const data = new Array_(bytes.buffer, bytes.byteOffset, bytes.byteLength / Array_.BYTES_PER_ELEMENT);
    feeds[session.inputNames[i]] = new ort.Tensor(spec.dtype, data, spec.shape);
  });
  const batch = specs.length ? specs[0].shape[0] : 1;

  let t0 = nowMs();
  await session.run(feeds);
  const firstMs = nowMs() - t0;
  for (let i = 0; i < warmup; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; ++i) {
    t0 = nowMs();
    await session.run(feeds);
    times.push(nowMs() - t0);
  }
  times.sort((a, b) => a - b);
  const med = median(times);
  console.log(JSON.stringify({
    model: modelPath,
    load_s: loadS,
    first_ms: firstMs,
    median_ms: med,
    min_ms: times[0],
    max_ms: times[times.length - 1],
    items_per_s: batch * 1000 / med,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    arena_mb: null,
    threads,
    batch,
    runs,
  }));
})().catch((e) => {
  console.error(`ort_runner: ${e.stack || e}`);
  process.exit(2);
});
