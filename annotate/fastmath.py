"""The classifier's encoder run by ONNX Runtime: exported once per trained model, optionally with int8 weights.

On a CPU without native bfloat16 (AVX2 only) ONNX Runtime's int8 matrix products are the cheapest arithmetic that
keeps the labels (README, Scale). The heads stay in torch: only `ClaimClassifier.encoder` is replaced, by an
`OnnxEncoder` with the same inputs and `last_hidden_state`.

The exported graph is cached beside the weights as `encoder-<hash of the weights>.onnx` (quantized:
`...-int8-ffn.onnx`, `...-int8-all.onnx`), so a retrained model is exported again; where the model folder is
read-only the cache goes to the temp folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from .errors import ModelError

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxEncoder(nn.Module):
    """An ONNX Runtime session in the place of a BERT encoder: same keyword inputs, `.last_hidden_state` out."""

    def __init__(self, path: Path, config, threads: int):
        super().__init__()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.config = config
        self.path = path

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        feed = {k: v.to(torch.int64).numpy() for k, v in zip(INPUTS, (input_ids, attention_mask, token_type_ids))}
        return SimpleNamespace(last_hidden_state=torch.from_numpy(self.session.run(None, feed)[0]))


class _Hidden(nn.Module):
    """The encoder as a function of positional tensors to its last hidden state (what the export traces)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids).last_hidden_state


def export_encoder(encoder: nn.Module, path: Path) -> Path:
    """Export a BERT encoder to ONNX at `path` (batch and length dynamic), written atomically."""
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length", max=encoder.config.max_position_embeddings)
    shapes = {k: {0: batch, 1: length} for k in INPUTS}
    tmp = _partial(path)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the exporter's notes on optional packages (torchvision) it does not need
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Hidden(encoder).eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp),
                          input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_shapes=shapes,
                          dynamo=True, optimize=True, external_data=False, verbose=False)
    quiet.setLevel(level)
    tmp.replace(path)
    return path


def feed_forward_matmuls(graph) -> list[str]:
    """Names of the feed-forward layers' matrix products in an exported BERT graph: the one whose output reaches a
    Gelu (through its bias Add) and the one that reads a Gelu's output."""
    producer = {out: n for n in graph.node for out in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def reaches_gelu(name: str, hops: int = 2) -> bool:
        return any(c.op_type == "Gelu" or (hops and c.op_type == "Add" and reaches_gelu(c.output[0], hops - 1))
                   for c in consumers.get(name, []))

    return [n.name for n in graph.node if n.op_type == "MatMul"
            and (reaches_gelu(n.output[0]) or getattr(producer.get(n.input[0]), "op_type", "") == "Gelu")]


def quantize_encoder(src: Path, path: Path, layers: str = "ffn") -> Path:
    """Dynamic int8 quantization (per-channel weights) of the exported encoder's matrix products: `ffn` the
    feed-forward layers (two thirds of the arithmetic), `all` every one with a weight."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = feed_forward_matmuls(onnx.load(str(src)).graph) if layers == "ffn" else None
    if nodes is not None and len(nodes) % 2:
        raise ModelError(f"{src}: feed-forward layers not recognised ({len(nodes)} matrix products)")
    tmp = _partial(path)
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process is for static quantization
    try:
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes)
    finally:
        logging.getLogger().setLevel(level)
    tmp.replace(path)
    return path


def _partial(path: Path) -> Path:
    """A temporary name beside `path`, one per process: workers exporting at once never share a file."""
    return path.with_name(f"{path.stem}.{os.getpid()}.part.onnx")


def _cache_dir(model_dir: Path) -> Path:
    probe = model_dir / ".onnx-write-test"
    try:
        probe.touch()
        probe.unlink()
        return model_dir
    except OSError:
        out = Path(tempfile.gettempdir()) / "annotate-onnx"
        out.mkdir(exist_ok=True)
        return out


def weights_key(weights: Path) -> str:
    """A short hash of the weights file: the cached graph belongs to these weights only."""
    h = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def onnx_encoder(encoder: nn.Module, model_dir: Path, weights: Path, int8: str | None, threads: int,
                 say=lambda m: None) -> OnnxEncoder:
    """An `OnnxEncoder` for this model's encoder, exported (and quantized: `int8` "ffn" or "all") on first use and
    cached."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ModelError("fast_math onnx needs onnxruntime: pip install onnxruntime") from None
    folder = _cache_dir(model_dir)
    base = folder / f"encoder-{weights_key(weights)}.onnx"
    if not base.exists():
        say(f"exporting the encoder to ONNX: {base}")
        export_encoder(encoder, base)
    path = base
    if int8:
        path = base.with_name(f"{base.stem}-int8-{int8}.onnx")
        if not path.exists():
            say(f"quantizing the ONNX encoder to int8 ({int8}): {path}")
            quantize_encoder(base, path, int8)
    return OnnxEncoder(path, encoder.config, threads)
