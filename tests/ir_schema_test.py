#!/usr/bin/python3
"""`kerasrt info --ir` against docs/ir.schema.json, for every corpus case in every form it ships.

Each document must validate against the schema and pass the referential checks the schema cannot
express (ids that point at existing values, producers that agree with node outputs, nodes in
execution order). A self-check first makes sure the schema and the checks reject documents that are
wrong on purpose, so neither is vacuous.

The corpus is ../shared/keras-corpus next to the repository, or $KERASRT_CORPUS. When it is missing
the test skips (exit 77), or fails under CI=true. Forms are found as tests/conformance_test.cpp
finds them; cases it expects to be refused, and bonus forms Keras itself cannot reload, are skipped
when kerasrt refuses them (and validated when it loads them).

Run with /usr/bin/python3 (needs apt's python3-jsonschema). Exit 0 when everything passed.
"""
import argparse
import concurrent.futures
import copy
import json
import os
import subprocess
import sys
import time

import jsonschema

SKIP = 77  # CTest's SKIP_RETURN_CODE for this test

# Mirrors expected_unsupported() in tests/conformance_test.cpp: refused with a clean error.
EXPECTED_UNSUPPORTED = {
    "lambda_layer": "Lambda holds Python bytecode, never run",
    "custom_layer": "ScaledDense is a custom class",
}


# ---------------------------------------------------------------------------------------------
# Referential integrity: what the schema cannot say.

def integrity_errors(doc):
    """Returns a list of problems (empty when the graph hangs together). Assumes doc is schema-valid."""
    errs = []
    values, nodes = doc["values"], doc["nodes"]
    nv, nn = len(values), len(nodes)

    for i, v in enumerate(values):
        if v["id"] != i:
            errs.append(f"values[{i}] has id {v['id']}")
    for i, n in enumerate(nodes):
        if n["id"] != i:
            errs.append(f"nodes[{i}] has id {n['id']}")

    model_inputs = set()
    for key in ("inputs", "outputs"):
        for i, port in enumerate(doc[key]):
            if port["value"] >= nv:
                errs.append(f"{key}[{i}] ('{port['name']}') names value {port['value']}, which does not exist")
            elif key == "inputs":
                model_inputs.add(port["value"])
                if values[port["value"]]["producer"] is not None:
                    errs.append(f"model input '{port['name']}' is value {port['value']}, "
                                f"which node {values[port['value']]['producer']} produces")

    for i, v in enumerate(values):
        p = v["producer"]
        if p is None:
            if i not in model_inputs:
                errs.append(f"value {i} has no producer and is not a model input")
        elif p >= nn:
            errs.append(f"value {i} names producer {p}, which does not exist")
        elif i not in nodes[p]["outputs"]:
            errs.append(f"value {i} names producer {p}, whose outputs {nodes[p]['outputs']} do not list it")

    for n, node in enumerate(nodes):
        for o in node["outputs"]:
            if o >= nv:
                errs.append(f"node {n} ({node['layer']}) writes value {o}, which does not exist")
            elif values[o]["producer"] != n:
                errs.append(f"node {n} ({node['layer']}) writes value {o}, whose producer is {values[o]['producer']}")
        for x in node["inputs"]:
            if x >= nv:
                errs.append(f"node {n} ({node['layer']}) reads value {x}, which does not exist")
                continue
            p = values[x]["producer"]
            if p is None:
                if x not in model_inputs:
                    errs.append(f"node {n} ({node['layer']}) reads value {x}, which nothing produces")
            elif p >= n:
                errs.append(f"node {n} ({node['layer']}) reads value {x} before node {p} produces it")

    if any("kernel" in node for node in nodes) and "arena_bytes" not in doc:
        errs.append("nodes name kernels but there is no arena_bytes (no plan)")
    return errs


def check(validator, doc):
    """Schema errors first (integrity is meaningless on a malformed document), then integrity."""
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errs:
        return [f"schema: at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in errs[:5]]
    return [f"integrity: {e}" for e in integrity_errors(doc)]


# ---------------------------------------------------------------------------------------------
# Self-check: a good document passes, documents broken on purpose do not.

GOOD = {
    "format": "kerasrt-ir",
    "version": 1,
    "name": "tiny",
    "inputs": [{"name": "x", "value": 0}],
    "outputs": [{"name": "y", "value": 2}],
    "values": [
        {"id": 0, "shape": [None, 4], "dtype": "float32", "producer": None, "names": ["x"]},
        {"id": 1, "shape": [None, 4], "dtype": "float32", "producer": 0, "names": ["a", "a:0"]},
        {"id": 2, "shape": [None, 2], "dtype": "int64", "producer": 1, "names": ["y"]},
    ],
    "nodes": [
        {"id": 0, "op": "custom", "layer": "a", "inputs": [0], "outputs": [1], "attrs": {"class": "Scale"},
         "weights": [{"name": "kernel", "shape": [4, 4], "dtype": "float32"}], "kernel": "custom"},
        {"id": 1, "op": "dense", "layer": "y", "inputs": [1, 0], "outputs": [2], "attrs": {"units": 2, "any": [1]},
         "weights": []},
    ],
    "arena_bytes": 64,
}


def broken(edit):
    doc = copy.deepcopy(GOOD)
    edit(doc)
    return doc


SCHEMA_BAD = {
    "value dtype float64": lambda d: d["values"][0].update(dtype="float64"),
    "negative dimension": lambda d: d["values"][1]["shape"].__setitem__(1, -1),
    "fractional dimension": lambda d: d["values"][1]["shape"].__setitem__(1, 2.5),
    "dimension as string": lambda d: d["values"][1]["shape"].__setitem__(1, "4"),
    "null dimension in a weight": lambda d: d["nodes"][0]["weights"][0]["shape"].__setitem__(0, None),
    "node without op": lambda d: d["nodes"][0].pop("op"),
    "node without attrs": lambda d: d["nodes"][1].pop("attrs"),
    "attrs not an object": lambda d: d["nodes"][1].update(attrs=[]),
    "custom attrs without class": lambda d: d["nodes"][0].update(attrs={}),
    "custom attrs with an extra key": lambda d: d["nodes"][0]["attrs"].update(extra=1),
    "unknown node key": lambda d: d["nodes"][0].update(extra=1),
    "unknown value key": lambda d: d["values"][0].update(extra=1),
    "unknown top-level key": lambda d: d.update(extra=1),
    "unknown weight key": lambda d: d["nodes"][0]["weights"][0].update(extra=1),
    "unknown port key": lambda d: d["inputs"][0].update(extra=1),
    "negative value id": lambda d: d["values"][0].update(id=-1),
    "negative node input": lambda d: d["nodes"][0].update(inputs=[-1]),
    "producer as string": lambda d: d["values"][1].update(producer="0"),
    "value without names": lambda d: d["values"][0].pop("names"),
    "wrong format": lambda d: d.update(format="onnx"),
    "version 2": lambda d: d.update(version=2),
    "missing nodes": lambda d: d.pop("nodes"),
    "negative arena_bytes": lambda d: d.update(arena_bytes=-8),
    "boolean as id": lambda d: d["outputs"][0].update(value=True),
    "node without outputs": lambda d: d["nodes"][1].update(outputs=[]),
}

INTEGRITY_BAD = {
    "value id out of order": lambda d: d["values"][1].update(id=2),
    "node id out of order": lambda d: d["nodes"][1].update(id=0),
    "node reads a missing value": lambda d: d["nodes"][1].update(inputs=[7]),
    "node writes a missing value": lambda d: d["nodes"][1].update(outputs=[7]),
    "output names a missing value": lambda d: d["outputs"][0].update(value=9),
    "producer disagrees with outputs": lambda d: d["values"][2].update(producer=0),
    "producer does not exist": lambda d: d["values"][2].update(producer=5),
    "node reads a later value": lambda d: d["nodes"][0].update(inputs=[2]),
    "node reads a value nothing produces": lambda d: (
        d["values"].append({"id": 3, "shape": [], "dtype": "bool", "producer": None, "names": []}),
        d["nodes"][1].update(inputs=[3])),
    "model input has a producer": lambda d: d["inputs"].__setitem__(0, {"name": "x", "value": 1}),
    "kernels without a plan": lambda d: d.pop("arena_bytes"),
}


def self_check(validator):
    problems = []
    good = check(validator, GOOD)
    if good:
        problems.append(f"the good document is rejected: {good}")
    for what, edit in SCHEMA_BAD.items():
        doc = broken(edit)
        if not list(validator.iter_errors(doc)):
            problems.append(f"schema accepts a document with {what}")
    for what, edit in INTEGRITY_BAD.items():
        doc = broken(edit)
        if not check(validator, doc):
            problems.append(f"checks accept a document with {what}")
    return problems, len(SCHEMA_BAD) + len(INTEGRITY_BAD)


# ---------------------------------------------------------------------------------------------
# The corpus, found as tests/conformance_test.cpp finds it.

def corpus_forms(corpus):
    with open(os.path.join(corpus, "manifest.json")) as f:
        manifest = json.load(f)
    out = []
    for c in manifest["cases"]:
        if c.get("status", "") not in ("ok", "partial"):
            continue
        name = c["name"]
        files = {fi["file"] for fi in c["files"]}
        reload = c.get("reload_max_abs_diff") or {}

        def reloads(key):
            return not isinstance(reload.get(key), str)

        if name + ".keras" in files:
            out.append((name, "keras", [name + ".keras"], reloads(name + ".keras")))
        if name + ".h5" in files:
            out.append((name, "h5", [name + ".h5"], reloads(name + ".h5")))
        if name + ".config.json" in files and name + ".weights.h5" in files:
            out.append((name, "json", [name + ".config.json", "--weights", name + ".weights.h5"],
                        reloads("config.json+weights.h5")))
    return out


def run_form(cli, corpus, validator, form, timeout):
    """Returns (status, detail): status is "ok", "fail" or "skip"."""
    name, kind, args, keras_reloads = form
    argv = [cli, "info", "--ir"] + [a if a.startswith("--") else os.path.join(corpus, a) for a in args]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "fail", f"timed out after {timeout} s"
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        if name in EXPECTED_UNSUPPORTED:
            return "skip", f"refused as expected: {why}"
        if not keras_reloads:
            return "skip", f"bonus form Keras cannot reload either: {why}"
        return "fail", f"exit {r.returncode}: {why}"
    try:
        doc = json.loads(r.stdout)
    except json.JSONDecodeError as e:
        return "fail", f"output is not JSON: {e}"
    errs = check(validator, doc)
    if errs:
        return "fail", "; ".join(errs[:3]) + (f" (+{len(errs) - 3} more)" if len(errs) > 3 else "")
    return "ok", ""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the kerasrt executable")
    ap.add_argument("--schema", default=os.path.join(repo, "docs", "ir.schema.json"))
    ap.add_argument("--corpus", default=os.environ.get("KERASRT_CORPUS") or
                    os.path.join(repo, "..", "shared", "keras-corpus"))
    ap.add_argument("--jobs", type=int, default=2, help="CLI runs in parallel (default 2)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per CLI run")
    ap.add_argument("--show", type=int, default=10, help="failures to print")
    ap.add_argument("--only", help="run only cases whose name contains this")
    a = ap.parse_args()
    start = time.monotonic()

    with open(a.schema) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        print(f"ir schema: {a.schema} is not a valid {cls.__name__} schema: {e.message}")
        return 1
    validator = cls(schema)

    problems, n_bad = self_check(validator)
    if problems:
        print(f"ir schema: self-check failed ({len(problems)} of {n_bad} broken documents, or the good one):")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"ir schema: self-check passed ({n_bad} broken documents rejected, the good one accepted)")

    if not os.path.exists(os.path.join(a.corpus, "manifest.json")):
        if os.environ.get("CI") == "true":
            print(f"ir schema: corpus missing at {a.corpus} (CI=true: failing)")
            return 1
        print(f"ir schema: corpus not found at {a.corpus}; skipped")
        return SKIP

    forms = corpus_forms(a.corpus)
    if a.only:
        forms = [f for f in forms if a.only in f[0]]
    if not forms:
        print(f"ir schema: no forms found in {a.corpus}/manifest.json")
        return 1
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futures = [pool.submit(run_form, a.cli, a.corpus, validator, f, a.timeout) for f in forms]
        for form, fut in zip(forms, futures):
            results.append((form, *fut.result()))

    failed = [(f, d) for f, s, d in results if s == "fail"]
    skipped = [(f, d) for f, s, d in results if s == "skip"]
    ok = sum(1 for _, s, _ in results if s == "ok")
    print(f"ir schema: validated {ok}, failed {len(failed)}, skipped {len(skipped)} "
          f"of {len(forms)} case forms in {time.monotonic() - start:.1f} s")
    for (name, kind, _, _), detail in failed[:a.show]:
        print(f"  FAIL {name} [{kind}]: {detail}")
    if len(failed) > a.show:
        print(f"  ... and {len(failed) - a.show} more")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
