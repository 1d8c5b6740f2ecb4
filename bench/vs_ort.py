#!/usr/bin/python3
"""kerasrt next to ONNX Runtime on the bench models, side by side on this machine.

Usage (Debian's python3, which has numpy):
  /usr/bin/python3 bench/vs_ort.py [--cli build/kerasrt] [--bench ../shared/bench]
                                   [--corpus ../shared/keras-corpus] [--rounds 3] [--runs 20]
                                   [--models a,b] [--batches 1,16] [--threads 1,2] [--no-generate-onnx]
                                   [--onnx-from-ir]

For every model, batch and thread count it starts fresh processes, kerasrt (`kerasrt bench --json`)
and ONNX Runtime (bench/ort_runner.js through the npm package onnxruntime-node, installed into a
cache folder on first use), alternating which goes first, `--rounds` times each; each process
reports the median of `--runs` warm calls, and the table shows the median of those medians and the
ratio kerasrt / ORT (below 1: kerasrt is faster). Both engines get the same inputs: the model's
`NAME.inputs.npz` tiled to the batch. Before timing, kerasrt's outputs are checked against Keras's
(`NAME.outputs.npz`). Models without an `.onnx` file (the corpus's DenseNet121 and EfficientNetB0)
are timed in ORT on the same graph rebuilt by bench/ir_to_onnx.py with random weights (marked in the
table). Not part of the test suite: timings belong to a quiet machine.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORT_PACKAGE = "onnxruntime-node@1.30.0"
ORT_CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "kerasrt-bench")

# name, folder ("bench" or "corpus"), tolerance of the output check (the bench README's: 2e-3 for
# keras.applications models, 1e-4 otherwise).
MODELS = [
    ("bench_lstm_stack", "bench", 1e-4),
    ("bench_gru", "bench", 1e-4),
    ("bench_transformer", "bench", 1e-4),
    ("bench_conv1d_audio", "bench", 1e-4),
    ("bench_mobilenetv3small", "bench", 2e-3),
    ("bench_mobilenetv2", "bench", 2e-3),
    ("app_densenet121", "corpus", 2e-3),
    ("app_efficientnetb0", "corpus", 2e-3),
]


def install_ort():
    """onnxruntime-node in a cache folder. Its install script fetches GPU parts from the network, so
    it is skipped: the package itself carries the CPU library and the node binding we use."""
    module = os.path.join(ORT_CACHE, "node_modules", "onnxruntime-node")
    if not os.path.isdir(module):
        os.makedirs(ORT_CACHE, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", ORT_CACHE, "--no-audit", "--no-fund", "--ignore-scripts",
                        ORT_PACKAGE], check=True, stdout=subprocess.DEVNULL)
    return module


def have_python_onnx():
    """python3-onnx, which bench/ir_to_onnx.py needs; installed from Debian's archive if missing."""
    probe = ["/usr/bin/python3", "-c", "import onnx"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return True
    subprocess.run(["apt-get", "install", "-y", "-q", "python3-onnx"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return subprocess.run(probe, capture_output=True).returncode == 0


def identity_onnx(path):
    """A one-node ONNX model (y = Identity(x), x float32[1]), written as raw protobuf so the script
    needs no onnx package: timing it gives the per-call cost of the binding plus ORT's own floor."""
    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(num, payload):  # length-delimited
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    def int_field(num, value):
        return varint(num << 3) + varint(value)

    def value_info(name):
        dim = field(1, int_field(1, 1))                      # Dimension.dim_value = 1
        tensor_type = int_field(1, 1) + field(2, dim)         # elem_type FLOAT, shape
        return field(1, name.encode()) + field(2, field(1, tensor_type))

    node = field(1, b"x") + field(2, b"y") + field(4, b"Identity")
    graph = field(1, node) + field(2, b"identity") + field(11, value_info("x")) + field(12, value_info("y"))
    model = int_field(1, 8) + field(7, graph) + field(8, int_field(2, 17))
    with open(path, "wb") as f:
        f.write(model)


def load_npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def model_files(args, name, folder):
    base = os.path.join(args.bench if folder == "bench" else args.corpus, name)
    return base + ".keras", base + ".onnx", base + ".inputs.npz", base + ".outputs.npz"


def check_outputs(args, name, keras_path, inputs_path, outputs_path, tol, tmp):
    got_path = os.path.join(tmp, name + ".got.npz")
    subprocess.run([args.cli, "run", keras_path, "--input", inputs_path, "--output", got_path], check=True)
    got, ref = load_npz(got_path), load_npz(outputs_path)
    worst = 0.0
    for key, r in ref.items():
        g = got[key].astype(np.float64)
        r = r.astype(np.float64)
        if g.shape != r.shape:
            return False, f"{key}: shape {g.shape} vs Keras {r.shape}"
        excess = np.abs(g - r) - (tol + tol * np.abs(r))
        worst = max(worst, float(np.max(np.abs(g - r))) if g.size else 0.0)
        if g.size and np.max(excess) > 0:
            return False, f"{key}: max |diff| {float(np.max(np.abs(g - r))):.3g} beyond {tol:g}"
    return True, f"max |diff| {worst:.2g}"


def write_inputs(inputs_path, batch, folder):
    """The first sample of every input tiled to `batch`: an .npz for kerasrt and raw files for ORT."""
    os.makedirs(folder, exist_ok=True)
    arrays = load_npz(inputs_path)
    tiled, specs = {}, []
    for i, (key, a) in enumerate(arrays.items()):
        t = np.ascontiguousarray(np.repeat(a[:1], batch, axis=0))
        tiled[key] = t
        fname = f"input{i}.bin"
        t.tofile(os.path.join(folder, fname))
        specs.append({"file": fname, "dtype": "bool" if t.dtype == np.bool_ else str(t.dtype), "shape": list(t.shape)})
    np.savez(os.path.join(folder, "inputs.npz"), **tiled)
    with open(os.path.join(folder, "inputs.json"), "w") as f:
        json.dump(specs, f)
    return os.path.join(folder, "inputs.npz")


def last_json_line(text, what):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{what}: no JSON result in its output:\n{text}")


def run_kerasrt(args, keras_path, npz, batch, threads):
    cmd = [args.cli, "bench", keras_path, "--input", npz, "--batch", str(batch), "--threads", str(threads),
           "--runs", str(args.runs), "--warmup", str(args.warmup), "--json", "--no-progress"]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return last_json_line(p.stdout, "kerasrt bench")


def run_ort(args, ort_module, onnx_path, folder, threads):
    cmd = ["node", os.path.join(HERE, "ort_runner.js"), ort_module, onnx_path, folder, str(threads), str(args.runs),
           str(args.warmup)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return last_json_line(p.stdout, "ort_runner")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "kerasrt"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "..", "shared", "bench"))
    ap.add_argument("--corpus", default=os.environ.get("KERASRT_CORPUS", os.path.join(ROOT, "..", "shared", "keras-corpus")))
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per engine and setting")
    ap.add_argument("--runs", type=int, default=20, help="timed calls per process")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--models", default="", help="comma-separated subset of: " + ", ".join(m[0] for m in MODELS))
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-generate-onnx", dest="generate_onnx", action="store_false",
                    help="skip ORT for models without an .onnx file instead of rebuilding their graph "
                         "(bench/ir_to_onnx.py, needs python3-onnx)")
    ap.add_argument("--onnx-from-ir", action="store_true",
                    help="time ORT on the rebuilt graph for every model, even where an .onnx file exists "
                         "(how ORT does on a clean graph rather than on torch's export)")
    args = ap.parse_args()

    wanted = set(filter(None, args.models.split(",")))
    models = [m for m in MODELS if not wanted or m[0] in wanted]
    batches = [int(b) for b in args.batches.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    ort_module = install_ort()
    tmp = tempfile.mkdtemp(prefix="kerasrt-vs-ort-")
    rows, failures, generated = [], 0, set()
    try:
        identity = os.path.join(tmp, "identity.onnx")
        identity_onnx(identity)
        id_dir = os.path.join(tmp, "identity")
        os.makedirs(id_dir)
        np.zeros(1, np.float32).tofile(os.path.join(id_dir, "input0.bin"))
        with open(os.path.join(id_dir, "inputs.json"), "w") as f:
            json.dump([{"file": "input0.bin", "dtype": "float32", "shape": [1]}], f)
        id_args = argparse.Namespace(**{**vars(args), "runs": 200, "warmup": 20})
        overhead = run_ort(id_args, ort_module, identity, id_dir, 1)["median_ms"]
        print(f"ONNX Runtime: {ORT_PACKAGE} through its node binding; per-call floor (binding + ORT, "
              f"Identity on one float): {overhead * 1000:.0f} us, included in ORT's times below")

        for name, folder, tol in models:
            keras_path, onnx_path, inputs_path, outputs_path = model_files(args, name, folder)
            ok, detail = check_outputs(args, name, keras_path, inputs_path, outputs_path, tol, tmp)
            print(f"{name}: kerasrt vs Keras {'ok' if ok else 'MISMATCH'} ({detail})", flush=True)
            failures += not ok
            has_onnx = os.path.exists(onnx_path)
            if (args.onnx_from_ir or not has_onnx) and args.generate_onnx and have_python_onnx():
                # Same graph, random weights: ORT's times are comparable, its outputs are not.
                rebuilt = os.path.join(tmp, name + ".onnx")
                made = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "ir_to_onnx.py"), "--cli", args.cli,
                                       keras_path, rebuilt], capture_output=True, text=True)
                if made.returncode == 0:
                    onnx_path, has_onnx = rebuilt, True
                    generated.add(name)
                    print(f"  ORT runs {name}'s graph rebuilt by bench/ir_to_onnx.py (random weights: timing only)")
                else:
                    print(f"  cannot rebuild {name}'s graph ({made.stderr.strip().splitlines()[-1]})")
            for batch in batches:
                inputs_dir = os.path.join(tmp, f"{name}-b{batch}")
                npz = write_inputs(inputs_path, batch, inputs_dir)
                for threads in thread_counts:
                    k_runs, o_runs = [], []
                    for r in range(args.rounds):
                        order = ["k", "o"] if r % 2 == 0 else ["o", "k"]
                        for engine in order:
                            if engine == "k":
                                k_runs.append(run_kerasrt(args, keras_path, npz, batch, threads))
                            elif has_onnx:
                                o_runs.append(run_ort(args, ort_module, onnx_path, inputs_dir, threads))
                    k = statistics.median(x["median_ms"] for x in k_runs)
                    o = statistics.median(x["median_ms"] for x in o_runs) if o_runs else None
                    k_rss = max(x["peak_rss_mb"] for x in k_runs)
                    o_rss = max(x["peak_rss_mb"] for x in o_runs) if o_runs else None
                    rows.append((name, batch, threads, k, o, k_rss, o_rss))
                    ratio = f"{k / o:.2f}" if o else "-"
                    print(f"  batch {batch:>2} threads {threads}: kerasrt {k:8.2f} ms  ORT "
                          f"{(f'{o:8.2f} ms' if o else '       -   ')}  ratio {ratio}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("| model | batch | threads | kerasrt ms | ORT ms | kerasrt / ORT | kerasrt items/s | ORT items/s "
          "| kerasrt peak MB | ORT peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, batch, threads, k, o, k_rss, o_rss in rows:
        def fmt(v, spec):
            return format(v, spec) if v is not None else "-"
        shown = name + (" (ORT: rebuilt graph)" if name in generated else "")
        print(f"| {shown} | {batch} | {threads} | {k:.2f} | {fmt(o, '.2f')} | {fmt(k / o if o else None, '.2f')} "
              f"| {batch * 1000 / k:.1f} | {fmt(batch * 1000 / o if o else None, '.1f')} | {k_rss:.0f} "
              f"| {fmt(o_rss, '.0f')} |")
    if failures:
        print(f"\n{failures} model(s) do not match Keras", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
