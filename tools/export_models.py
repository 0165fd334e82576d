#!/usr/bin/env python3
"""Export edgeserve's models to TorchScript and describe them in a manifest.

Each model is built with random weights (nothing is downloaded), traced with
torch.jit.trace, frozen, saved as DIR/<name>.pt, reloaded and checked against
the eager model, and then recorded in DIR/manifest.json. See tools/README.md.

Works with torch 1.13 / torchvision 0.14 and with torch 2.x and a matching
torchvision. Export happens on the CPU unless --device says otherwise; GPU
variants (--half, --channels-last) are exported on a GPU and saved under their
own names (resnet50-fp16, resnet50-fp16-cl), next to the fp32 originals.
"""

import argparse
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import torch
import torch.nn as nn
import torchvision

from yolov4 import YOLOv4  # tools/ is on sys.path when this file runs as a script

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# Reload check tolerances. Freezing folds BatchNorm into the convolutions,
# which changes float rounding, so outputs are close but not bit-identical.
# ATOL is relative to the output's largest magnitude: with random weights some
# models' outputs are tiny (efficientnet_b0's are ~1e-14) and others large
# (resnet50's ~1e2), so no fixed absolute tolerance suits them all.
RTOL = 1e-3
ATOL = 1e-3  # yolov4 after BatchNorm calibration differed by 1.3e-4 x scale on torch 2.11's CPU kernels

# fp16 variants are compared with their own eager model in fp16 by direction,
# not element by element: folding BatchNorm into fp16 convolution weights moved
# logits by 3.9% (resnet50) and 11% (wideresnet101) of their largest magnitude,
# and yolov4's p3 and p5 to cosine 0.978 and 0.899,
# on the H100, while a wrong export points elsewhere entirely (cosine ~0).
HALF_MIN_COSINE = 0.8  # measured on the H100: yolov4 p3 0.978, p5 0.899; a wrong export gives ~0

T = TypeVar("T")


@dataclass(frozen=True)
class Variant:
    """How a model is exported: on which device, in which dtype and layout."""
    device: str = "cpu"
    half: bool = False
    channels_last: bool = False

    def suffix(self) -> str:
        return ("-fp16" if self.half else "") + ("-cl" if self.channels_last else "")

    def dtype(self) -> torch.dtype:
        return torch.float16 if self.half else torch.float32

    def place(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(device=self.device, dtype=self.dtype())
        return t.contiguous(memory_format=torch.channels_last) if self.channels_last else t


class BigOut(nn.Module):
    """A 16 MiB answer from a tiny input, for tests of the reply path: a 1x1 conv to 16 classes, upsampled 16x
    (nearest, so every value is exact) to [1,16,512,512] float32, and a small second output ("aux")."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 16, 1)
        self.aux = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = nn.functional.interpolate(self.head(x), scale_factor=16.0, mode="nearest")
        aux = nn.functional.interpolate(self.aux(x), scale_factor=2.0, mode="nearest")
        return out, aux


class HugeOut(nn.Module):
    """A 36 MiB answer, above glibc malloc's 32 MiB ceiling for reusing freed blocks, from a tiny input: a 1x1 conv
    to 9 classes upsampled 32x (nearest) to [1,9,1024,1024] float32. Tests that a client receiving it pays no
    page faults per reply (edgeserve links tcmalloc)."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 9, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(self.head(x), scale_factor=32.0, mode="nearest")


class TinyNet(nn.Module):
    """Small CNN for fast tests: three convs, global average pool, linear."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


class DeepLabTuple(nn.Module):
    """torchvision's DeepLabV3 returns a dict; C++ callers want a plain tuple."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        result = self.model(x)
        return result["out"], result["aux"]


def _deeplabv3() -> nn.Module:
    return DeepLabTuple(torchvision.models.segmentation.deeplabv3_resnet50(
        weights=None, weights_backbone=None, num_classes=21, aux_loss=True))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    build: Callable[[], nn.Module]
    input_shape: Tuple[int, int, int, int]
    output_names: Tuple[str, ...]
    in_paper: bool = True


MODELS: Dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec("tiny", "classification", TinyNet, (1, 3, 32, 32), ("logits",), in_paper=False),
    ModelSpec("bigout", "segmentation", BigOut, (1, 3, 32, 32), ("out", "aux"), in_paper=False),
    ModelSpec("hugeout", "segmentation", HugeOut, (1, 3, 32, 32), ("out",), in_paper=False),
    ModelSpec("mobilenetv3", "classification",
              lambda: torchvision.models.mobilenet_v3_small(weights=None),
              (1, 3, 224, 224), ("logits",)),
    ModelSpec("resnet50", "classification",
              lambda: torchvision.models.resnet50(weights=None),
              (1, 3, 224, 224), ("logits",)),
    ModelSpec("efficientnetb0", "classification",
              lambda: torchvision.models.efficientnet_b0(weights=None),
              (1, 3, 224, 224), ("logits",)),
    ModelSpec("wideresnet101", "classification",
              lambda: torchvision.models.wide_resnet101_2(weights=None),
              (1, 3, 224, 224), ("logits",)),
    ModelSpec("yolov4", "detection", YOLOv4, (1, 3, 416, 416), ("p3", "p4", "p5")),
    ModelSpec("deeplabv3", "segmentation", _deeplabv3, (1, 3, 520, 520), ("out", "aux")),
]}

# Names accepted by --models besides the model names themselves.
GROUPS: Dict[str, List[str]] = {
    "all": list(MODELS),
    "paper": [name for name, spec in MODELS.items() if spec.in_paper],
}


def parse_model_list(text: str) -> List[str]:
    """Turn 'a,b,paper' into a de-duplicated list of model names."""
    names: List[str] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token in GROUPS:
            expanded = GROUPS[token]
        elif token in MODELS:
            expanded = [token]
        else:
            raise argparse.ArgumentTypeError(
                "unknown model %r; valid models: %s (or a group: %s)"
                % (token, ", ".join(MODELS), ", ".join(GROUPS)))
        names.extend(n for n in expanded if n not in names)
    if not names:
        raise argparse.ArgumentTypeError("no models given")
    return names


def as_tuple(outputs, name: str) -> Tuple[torch.Tensor, ...]:
    """Normalise model `name`'s forward result to a tuple of tensors, rejecting anything else."""
    if isinstance(outputs, torch.Tensor):
        return (outputs,)
    if isinstance(outputs, tuple) and all(isinstance(t, torch.Tensor) for t in outputs):
        return outputs
    raise TypeError("%s: forward must return a Tensor or a tuple of Tensors, got %s"
                    % (name, type(outputs).__name__))


def trace_and_freeze(model: nn.Module, example: torch.Tensor, optimize: bool) -> torch.jit.ScriptModule:
    # check_trace is off because verify() below compares the saved file with
    # the eager model on a different input, which is the stronger check.
    traced = torch.jit.trace(model, example, check_trace=False)
    try:
        frozen = torch.jit.freeze(traced)
    except Exception as exc:  # freeze is an optimisation; an unfrozen trace still serves
        print("  freeze failed (%s: %s); saving the unfrozen trace" % (type(exc).__name__, exc))
        return traced
    if not optimize:
        return frozen
    # GPU exports only: fuses convolution + add + ReLU into single cuDNN calls. On the CPU it would
    # rewrite the graph for oneDNN layouts, which the server's libtorch may not share.
    try:
        return torch.jit.optimize_for_inference(frozen)
    except Exception as exc:
        print("  optimize_for_inference failed (%s: %s); saving the frozen trace" % (type(exc).__name__, exc))
        return frozen


def verify(path: str, model: nn.Module, spec: ModelSpec, gen: torch.Generator,
           variant: Variant) -> List[List[int]]:
    """Reload the saved file, compare it with the eager model, return output shapes."""
    loaded = torch.jit.load(path, map_location=variant.device)
    x = variant.place(torch.randn(spec.input_shape, generator=gen))

    expected = as_tuple(model(x), spec.name)
    actual = as_tuple(loaded(x), spec.name)
    if len(actual) != len(expected) or len(actual) != len(spec.output_names):
        raise RuntimeError("%s: reloaded model returns %d outputs, eager model %d, expected %d (%s)"
                           % (spec.name, len(actual), len(expected), len(spec.output_names),
                              ", ".join(spec.output_names)))
    for name, want, got in zip(spec.output_names, expected, actual):
        if want.shape != got.shape:
            raise RuntimeError("%s: output %r has shape %s after reload, %s in eager mode"
                               % (spec.name, name, list(got.shape), list(want.shape)))
        if not torch.isfinite(want).all():
            raise RuntimeError("%s: eager output %r is not finite" % (spec.name, name))
        want, got = want.float(), got.float()
        if variant.half:
            cosine = torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0).item()
            if not cosine >= HALF_MIN_COSINE:
                raise RuntimeError("%s: fp16 output %r of the reloaded TorchScript differs from the eager "
                                   "model (cosine similarity %.4f < %g)" % (spec.name, name, cosine, HALF_MIN_COSINE))
            continue
        scale = want.abs().max().item()
        if not torch.allclose(got, want, rtol=RTOL, atol=ATOL * scale):
            diff = (got - want).abs().max().item()
            raise RuntimeError("%s: output %r of the reloaded TorchScript differs from the eager "
                               "model (max abs diff %.3g, max |output| %.3g, rtol=%g, atol=%g*%.3g)"
                               % (spec.name, name, diff, scale, RTOL, ATOL, scale))
    return [list(t.shape) for t in actual]


def manifest_entry(spec: ModelSpec, output_shapes: List[List[int]], variant: Variant) -> dict:
    height, width = spec.input_shape[2:]
    name = spec.name + variant.suffix()
    entry = {
        "name": name,
        "file": name + ".pt",
        "task": spec.task,
        "input": {"shape": list(spec.input_shape), "dtype": "float16" if variant.half else "float32"},
        "preprocessing": {"kind": "imagenet", "resize": [height, width],
                          "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
        "outputs": [{"name": name, "shape": shape, "dtype": "float16" if variant.half else "float32"}
                    for name, shape in zip(spec.output_names, output_shapes)],
        "exported_with": {"torch": str(torch.__version__),
                          "torchvision": str(torchvision.__version__),
                          "device": variant.device},
    }
    if variant.channels_last:
        entry["memory_format"] = "channels_last"
    return entry


def load_manifest(path: str) -> Dict[str, dict]:
    """Existing manifest entries by name; empty if there is no manifest yet."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except ValueError as exc:
        raise SystemExit("%s is not valid JSON (%s); fix or delete it" % (path, exc))
    if data.get("format") != MANIFEST_FORMAT:
        raise SystemExit("%s has format %r; this tool writes format %d"
                         % (path, data.get("format"), MANIFEST_FORMAT))
    return {entry["name"]: entry for entry in data.get("models", [])}


def write_atomically(path: str, write: Callable[[str], T]) -> T:
    """Call write(tmp_path), then rename tmp_path over path, so readers never
    see a half-written file. Returns what write returned.

    tmp_path sits in a fresh hidden folder next to path and has path's file
    name, because torch.jit.save names the archive's root folder after the
    file: a random temp name would end up inside the .pt and make exports
    differ from run to run.
    """
    tmp_dir = tempfile.mkdtemp(dir=os.path.dirname(path) or ".", prefix=".export-")
    try:
        tmp = os.path.join(tmp_dir, os.path.basename(path))
        result = write(tmp)
        os.replace(tmp, path)
        return result
    finally:
        shutil.rmtree(tmp_dir)


def to_json(value, indent: str = "") -> str:
    """Indented JSON like json.dumps(indent=2), but with lists of plain values
    (shapes, mean, std) on one line, which keeps the manifest readable."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = ["%s%s: %s" % (inner, json.dumps(k), to_json(v, inner)) for k, v in value.items()]
        return "{\n%s\n%s}" % (",\n".join(items), indent)
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [inner + to_json(v, inner) for v in value]
        return "[\n%s\n%s]" % (",\n".join(items), indent)
    return json.dumps(value)


def add_to_manifest(path: str, name: str, entry: dict) -> Dict[str, dict]:
    """Record one entry: read, merge and write under a lock on DIR/manifest.json.lock, so two exports into one
    folder at once (fp32 and fp16 variants side by side) both end up in the manifest; a plain read at start and
    write at the end let the last writer drop the other's models. Returns the entries as written."""
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = load_manifest(path)
        entries[name] = entry
        save_manifest(path, entries)
        return entries


def save_manifest(path: str, entries: Dict[str, dict]) -> None:
    data = {"format": MANIFEST_FORMAT,
            "models": [entries[name] for name in sorted(entries)]}

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(to_json(data) + "\n")
    write_atomically(path, write)


def calibrate_batchnorm(model: nn.Module, input_shape: Tuple[int, ...], gen: torch.Generator) -> None:
    """Give BatchNorm layers the running statistics of real forward passes.

    Freshly built, every BatchNorm has mean 0 and variance 1, so in eval mode it
    normalizes nothing and activations grow layer after layer: wide/deep random
    networks then overflow fp16 (wideresnet101's logits became inf). A trained
    network's BatchNorm keeps activations in range; a few training-mode passes
    on random input (batch 2, cumulative averages) give random weights the same
    property, so fp16 variants stay finite and outputs look like real ones.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the calibration passes
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn((2,) + tuple(input_shape[1:]), generator=gen))
    model.eval()


def export(spec: ModelSpec, out_dir: str, seed: int, variant: Variant) -> dict:
    """Export one model to out_dir and return its manifest entry."""
    # Seed per model so a model's weights don't depend on which others ran first.
    torch.manual_seed(seed)
    model = spec.build()
    calibrate_batchnorm(model, spec.input_shape, torch.Generator().manual_seed(seed + 1))
    model = model.eval().to(device=variant.device, dtype=variant.dtype())
    if variant.channels_last:
        model = model.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(seed)
    example = variant.place(torch.randn(spec.input_shape, generator=gen))
    path = os.path.join(out_dir, spec.name + variant.suffix() + ".pt")
    with torch.no_grad():
        as_tuple(model(example), spec.name)  # fail early, with a clear message, on dict/list outputs
        scripted = trace_and_freeze(model, example, optimize=variant.device != "cpu")

        # The file only takes its final name once it has passed verification.
        def save_and_verify(tmp: str) -> List[List[int]]:
            scripted.save(tmp)
            return verify(tmp, model, spec, gen, variant)

        shapes = write_atomically(path, save_and_verify)
    return manifest_entry(spec, shapes, variant)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Export edgeserve's models (random weights, nothing is downloaded) to\n"
                    "TorchScript files DIR/<name>.pt and describe them in DIR/%s.\n\n"
                    "models: %s\n"
                    "groups: all (every model), paper (the six models of the paper: all but tiny)"
                    % (MANIFEST_NAME, ", ".join(MODELS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  python3 tools/export_models.py                       # all models into ./models\n"
               "  python3 tools/export_models.py --models tiny --out /tmp/models\n"
               "  python3 tools/export_models.py --models paper --force\n"
               "  python3 tools/export_models.py --models resnet50 --device cuda --half --channels-last"
               "   # -> resnet50-fp16-cl")
    parser.add_argument("--models", type=parse_model_list, default=list(MODELS), metavar="LIST",
                        help="comma-separated model names or groups (default: all)")
    parser.add_argument("--out", default="models", metavar="DIR",
                        help="output folder for the .pt files and %s (default: models)" % MANIFEST_NAME)
    parser.add_argument("--force", action="store_true",
                        help="re-export models whose file and manifest entry already exist")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for weights and example inputs (default: 0)")
    parser.add_argument("--device", default="cpu",
                        help="device to trace and freeze on (default: cpu); GPU variants need cuda")
    parser.add_argument("--half", action="store_true",
                        help="export an fp16 variant (name suffix -fp16; input dtype float16)")
    parser.add_argument("--channels-last", action="store_true",
                        help="export a channels-last (NHWC) variant (name suffix -cl)")
    args = parser.parse_args(argv)
    variant = Variant(args.device, args.half, args.channels_last)
    if args.half and args.device == "cpu":
        parser.error("--half needs --device cuda (CPU kernels for fp16 convolutions are missing or slow)")

    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, MANIFEST_NAME)
    entries = load_manifest(manifest_path)
    print("torch %s, torchvision %s; writing to %s"
          % (torch.__version__, torchvision.__version__, os.path.abspath(args.out)))

    for base in args.models:
        spec = MODELS[base]
        name = base + variant.suffix()
        path = os.path.join(args.out, name + ".pt")
        if not args.force and name in entries and os.path.exists(path):
            print("%s: %s exists and is in the manifest; skipped (use --force to re-export)"
                  % (name, path))
            continue
        print("%s: exporting..." % name, flush=True)
        start = time.monotonic()
        # Saved after every model, so finished exports survive a later failure.
        entries = add_to_manifest(manifest_path, name, export(spec, args.out, args.seed, variant))
        shapes = ", ".join("%s %s" % (o["name"], o["shape"]) for o in entries[name]["outputs"])
        print("%s: done in %.1f s, %.1f MB -> %s (%s)"
              % (name, time.monotonic() - start, os.path.getsize(path) / 1e6, path, shapes),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
