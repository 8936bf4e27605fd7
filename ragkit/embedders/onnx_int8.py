"""An int8 copy of a sentence-transformers model run by ONNX Runtime: the embedder's ``backend: onnx-int8``.

sentence-transformers' own ONNX backend goes through optimum-onnx, whose releases
(0.1.0, the latest) pin transformers below 4.58 and fail to import under
transformers 5. So the whole model (transformer, pooling, any dense layers) is
traced here with torch's TorchScript ONNX exporter, which needs no other
package, with transformers' plain ("eager") attention, whose graph ONNX
Runtime's transformer optimizer recognises: attention, layer norms and GELU
become fused operators (for BERT-type models such as all-MiniLM-L6-v2; 1.3x
faster here than the unfused graph). Its weights are then quantised by ONNX
Runtime's dynamic quantiser, which needs ``onnx``. That happens once per model:
the file is kept in ragkit's model cache and later loads only open it.

Not every matrix product becomes int8. The second product of each feed-forward
block reads the activation function's output, whose few large values a
per-tensor 8-bit scale cannot hold together with the many small ones. Quantised
too, it made the model about 10% faster here, but some chunk vectors fell to a
cosine of 0.981 with the float ones; kept in float32, the lowest of 600 corpus
chunks and of ``sample_docs/`` was 0.994.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# The folder of the model cache (``ResolvedModel.cache_subdir``) that holds the exported file.
CACHE_SUBDIR = "onnx-int8"
FILE_NAME = "model.onnx"
INSTALL = "pip install 'ragkit[onnx]'"

# Where a feed-forward block's activation starts, and the elementwise steps that may follow it
# before its output reaches the next matrix product (GELU's erf form, the tanh form, SiLU, gating).
_ACTIVATIONS = {"Erf", "Tanh", "Sigmoid", "Gelu", "FastGelu", "BiasGelu"}
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Cast", "Pow"}


def missing_package() -> str | None:
    """The package this backend needs and cannot import here (onnxruntime runs the model, onnx quantises it), or None."""
    for name in ("onnxruntime", "onnx"):
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def load(model: Any, folder: Path) -> Any:
    """An ONNX Runtime session over the int8 copy of ``model``, exported first if absent.

    ``model``: the SentenceTransformer in float32 on the CPU, loaded with ``attn_implementation="eager"``.
    """
    import onnxruntime
    import torch

    path = folder / FILE_NAME
    if not path.exists():
        _export(model, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same threads as the torch backend, OMP_NUM_THREADS included
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(session: Any, features: dict[str, np.ndarray]) -> np.ndarray:
    """The model's sentence embeddings for one padded batch of token ids."""
    return session.run(None, features)[0]


def _export(model: Any, path: Path) -> None:
    """Trace ``model`` to ONNX, quantise it, and move the result into place whole (a crash leaves no half file)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    log.info("exporting the embedder to ONNX int8 at %s (once: later loads reuse the file)", path)
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as work:
        traced, quantised = Path(work) / "float32.onnx", Path(work) / FILE_NAME
        _trace(model, traced)
        with _onnxruntime_quiet():
            _fuse(traced, model.transformers_model.config)
            quantize_dynamic(
                str(traced),
                str(quantised),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul", "Attention"],
                nodes_to_exclude=_feed_forward_outputs(traced),
                # The fused operators are outside ONNX's shape inference: their outputs are float32.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        quantised.replace(path)
    log.info("exported %s in %.1f s", path, time.perf_counter() - started)


@contextmanager
def _onnxruntime_quiet() -> Iterator[None]:
    """Hide what ONNX Runtime's optimizer and quantiser log: a line per fusion and per tensor, and advice that does not apply.

    The quantiser logs on the root logger itself, the optimizer on loggers of its own that reach
    the root's handlers, so both the root logger and its handlers get the filter.
    """
    root = logging.getLogger()
    targets: list[logging.Filterer] = [root, *root.handlers]
    for target in targets:
        target.addFilter(_not_from_onnxruntime)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(_not_from_onnxruntime)


def _not_from_onnxruntime(record: logging.LogRecord) -> bool:
    return "onnxruntime" not in Path(record.pathname).parts


def _trace(model: Any, path: Path) -> None:
    """The whole SentenceTransformer, token ids in and ``sentence_embedding`` out, batch and length left free."""
    import torch

    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in model.tokenizer.model_input_names]
    sample = model.tokenizer(["a short sentence", "and a second, somewhat longer sentence"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python conditions it froze: shapes stay free, checked by the tests
        torch.onnx.export(
            _positional(model, names),
            tuple(sample[name] for name in names),
            str(path),
            dynamo=False,
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
        )


def _fuse(path: Path, config: Any) -> None:
    """Rewrite the traced graph in place with ONNX Runtime's fused transformer operators, where it knows the architecture."""
    from onnxruntime.transformers.optimizer import MODEL_TYPES, optimize_model

    if config.model_type not in MODEL_TYPES:
        log.info("ONNX Runtime has no fusions for %s models; the graph stays as traced", config.model_type)
        return
    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)  # 0: found in the graph
    optimize_model(str(path), model_type=config.model_type, num_heads=heads, hidden_size=hidden, opt_level=1).save_model_to_file(str(path))


def _positional(model: Any, names: list[str]) -> Any:
    """``model`` as a module that takes its features as positional tensors, which is how the exporter passes them."""
    import torch

    class Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors)))["sentence_embedding"]

    return Positional().eval()


def _feed_forward_outputs(path: Path) -> list[str]:
    """The matrix products that read an activation's output: each feed-forward block's second one."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found: set[str] = set()
    frontier = [node for node in graph.node if node.op_type in _ACTIVATIONS]
    seen = {id(node) for node in frontier}
    while frontier:
        node = frontier.pop()
        for output in node.output:
            for consumer in consumers.get(output, []):
                if consumer.op_type == "MatMul":
                    found.add(consumer.name)
                elif consumer.op_type in _ELEMENTWISE and id(consumer) not in seen:
                    seen.add(id(consumer))
                    frontier.append(consumer)
    return sorted(found)
