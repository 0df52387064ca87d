#!/usr/bin/env node
// bench/ort_run.js: runs one ONNX model under ONNX Runtime (CPU) and times it.
//
// Owns: the ONNX Runtime side of the executor benchmark (DESIGN.md,
// "Performance method": ORT is the speed peer, measured on the same model,
// thread count and machine, in the same run).  Also a second oracle for the
// zoo: --save-out writes ORT's outputs as .npy so they can be compared with
// torch's references by tests/zoo/compare.py.
//
// usage: node bench/ort_run.js MODEL.onnx [--threads T] [--repeat N]
//            [--warmup W] [--save-out DIR] [-i] NAME=FILE.npy ...
// prints one JSON object on stdout:
//   {"load_ms", "median_ms", "p90_ms", "min_ms", "peak_rss_bytes",
//    "outputs": {name: {"shape": [...], "dtype": "..."}}, ...}
// load_ms is session creation from the file (parse + graph optimisation);
// median/p90 are over N timed runs after W untimed ones; peak_rss_bytes is
// the process's max RSS (process.resourceUsage().maxRSS is in KiB).
// Needs `cd bench && npm install --ignore-scripts onnxruntime-node`.
'use strict';

const fs = require('fs');
let baselineRss = 0;  // RSS before the model is loaded: the runtime's own
const path = require('path');

function die(msg, code) {
  process.stderr.write('ort_run: ' + msg + '\n');
  process.exit(code === undefined ? 2 : code);
}

// ------------------------------------------------------------------ .npy I/O
// Minimal reader/writer for NumPy's .npy format: versions 1.0 (uint16 header
// length) and 2.0/3.0 (uint32), little-endian, C order only.

const NPY_TYPES = {           // descr -> [ort type, TypedArray, bytes per elt]
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<i8': ['int64', BigInt64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '|u1': ['uint8', Uint8Array, 1],
  '|i1': ['int8', Int8Array, 1],
  '|b1': ['bool', Uint8Array, 1],
};

function npyRead(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new Error(file + ': not a .npy file');
  const major = buf[6];
  let hlen, off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; }
  else if (major === 2 || major === 3) { hlen = buf.readUInt32LE(8); off = 12; }
  else throw new Error(file + ': unsupported .npy version ' + major);
  if (off + hlen > buf.length) throw new Error(file + ': truncated header');
  const hdr = buf.toString('latin1', off, off + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(hdr);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(hdr);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(hdr);
  if (!descr || !fortran || !shape) throw new Error(file + ': bad header');
  if (fortran[1] === 'True') throw new Error(file + ': fortran order');
  const t = NPY_TYPES[descr[1]];
  if (!t) throw new Error(file + ': unsupported dtype ' + descr[1]);
  const dims = shape[1].split(',').map(s => s.trim()).filter(s => s.length)
    .map(s => parseInt(s, 10));
  const n = dims.reduce((a, b) => a * b, 1);
  const start = off + hlen;
  if (buf.length - start !== n * t[2])
    throw new Error(file + ': data is ' + (buf.length - start) +
                    ' bytes, shape needs ' + n * t[2]);
  // Copy into a fresh, aligned ArrayBuffer (the header need not leave the
  // data aligned for the element type).
  const ab = buf.buffer.slice(buf.byteOffset + start,
                              buf.byteOffset + start + n * t[2]);
  return { type: t[0], data: new t[1](ab), dims };
}

function npyWrite(file, type, data, dims) {
  const descr = Object.keys(NPY_TYPES).find(k => NPY_TYPES[k][0] === type);
  if (!descr) throw new Error('cannot write dtype ' + type);
  const shp = dims.length === 1 ? '(' + dims[0] + ',)'
                                : '(' + dims.join(', ') + ')';
  let h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " +
          shp + ', }';
  const total = Math.ceil((10 + h.length + 1) / 64) * 64;
  h = h + ' '.repeat(total - 10 - h.length - 1) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(h.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(h, 'latin1'), body]));
}

// ------------------------------------------------------------------ main

function parseArgs(argv) {
  const a = { model: null, threads: 2, repeat: 10, warmup: 2, saveOut: null,
              inputs: [] };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die('option ' + s + ' needs a value');
      return argv[++i];
    };
    const int = (v, lo) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < lo) die('bad value for ' + s + ': ' + v);
      return n;
    };
    if (s === '--threads') a.threads = int(val(), 1);
    else if (s === '--repeat') a.repeat = int(val(), 1);
    else if (s === '--warmup') a.warmup = int(val(), 0);
    else if (s === '--save-out') a.saveOut = val();
    else if (s === '-i') a.inputs.push(val());
    else if (s === '-h' || s === '--help') {
      process.stdout.write('usage: node bench/ort_run.js MODEL.onnx ' +
        '[--threads T] [--repeat N] [--warmup W] [--save-out DIR] ' +
        'NAME=FILE.npy ...\n');
      process.exit(0);
    } else if (s.startsWith('-')) die('unknown option ' + s);
    else if (a.model === null) a.model = s;
    else a.inputs.push(s);
  }
  if (a.model === null) die('no model given (see --help)');
  return a;
}

function quantile(sorted, q) {   // nearest rank
  const k = Math.max(0, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.min(k, sorted.length - 1)];
}

function safeName(n) { return n.replace(/[^A-Za-z0-9._-]/g, '_'); }

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
    baselineRss = process.memoryUsage().rss;  // node + ORT loaded, no model
  } catch (e) {
    die('cannot load onnxruntime-node (cd bench && npm install ' +
        '--ignore-scripts onnxruntime-node): ' + e.message, 3);
  }

  const feeds = {};
  for (const s of a.inputs) {
    const eq = s.indexOf('=');
    if (eq <= 0) die('input must be NAME=FILE.npy: ' + s);
    let t;
    try { t = npyRead(s.slice(eq + 1)); } catch (e) { die(e.message, 3); }
    feeds[s.slice(0, eq)] = new ort.Tensor(t.type, t.data, t.dims);
  }

  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
  const t0 = process.hrtime.bigint();
  let sess;
  try {
    sess = await ort.InferenceSession.create(a.model, opts);
  } catch (e) { die(a.model + ': ' + e.message, 3); }
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;

  for (const n of sess.inputNames)
    if (!(n in feeds)) die('missing input ' + n + ' (model inputs: ' +
                           sess.inputNames.join(', ') + ')');

  let out;
  for (let i = 0; i < a.warmup; i++) out = await sess.run(feeds);
  const ms = [];
  for (let i = 0; i < a.repeat; i++) {
    const s = process.hrtime.bigint();
    out = await sess.run(feeds);
    ms.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  ms.sort((x, y) => x - y);

  const outputs = {};
  for (const n of sess.outputNames) {
    const t = out[n];
    outputs[n] = { shape: t.dims.map(Number), dtype: t.type };
    if (a.saveOut) {
      fs.mkdirSync(a.saveOut, { recursive: true });
      npyWrite(path.join(a.saveOut, safeName(n) + '.npy'), t.type, t.data,
               t.dims.map(Number));
    }
  }
  const r3 = x => Math.round(x * 1000) / 1000;
  const res = {
    model: a.model,
    engine: 'onnxruntime-node ' + (ort.env.versions
      ? ort.env.versions.node : ''),
    threads: a.threads, repeat: a.repeat, warmup: a.warmup,
    load_ms: r3(loadMs),
    median_ms: r3(quantile(ms, 0.5)),
    p90_ms: r3(quantile(ms, 0.9)),
    min_ms: r3(ms[0]),
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    baseline_rss_bytes: baselineRss,
    outputs,
  };
  process.stdout.write(JSON.stringify(res) + '\n');
  if (sess.release) await sess.release();
}

if (require.main === module)
  main().catch(e => die(e.stack || String(e), 1));
else
  module.exports = { npyRead, npyWrite };   // for other bench scripts
