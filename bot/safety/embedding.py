"""Sentence embeddings for the meaning-based crisis screen.

`Encoder` turns texts into 384-dimensional, L2-normalised float32 vectors with
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), exactly as
sentence-transformers computes them for this model: BERT (6 layers, 12 heads,
hidden 384, exact erf GELU), mean pooling over the tokens the attention mask
keeps, then L2 normalisation. Texts are cut at 128 tokens ([CLS] and [SEP]
included): the length the model was trained with, and the one its
tokenizer.json sets (sentence-transformers itself cuts at 256, so texts of
129-256 tokens are the only ones on which the two differ).

    >>> encoder = Encoder.load(default_model_dir())      # doctest: +SKIP
    >>> vectors = encoder.encode(["I want to end my life", "walking group"])
    >>> vectors.shape, vectors.dtype                     # doctest: +SKIP
    ((2, 384), dtype('float32'))

Two runtimes compute the same function from the same `model.safetensors`:

- "onnxruntime" (the default): an ONNX graph written here, in memory, by
  `onnx_graph`, whose weights are the safetensors bytes themselves (ONNX
  "external data" pointing at offsets in that file). Nothing is exported or
  stored: the graph is a pure function of the pinned file's header, and needs
  neither torch nor the `onnx` package.
- "numpy": the same forward pass in numpy, kept as the independent reference
  the tests hold the graph to (they agree to about 2e-7), and as a fallback
  where onnxruntime has no wheel. About 1.5x slower on one core.

Nothing here uses the network; `Encoder.load` checks the files against the
sha256 pinned in `bot.safety.model_files` and raises `ModelUnavailable` if any
is missing or wrong.

Results are deterministic: the same call gives the same vectors, bit for bit.
Texts are batched only with texts of the same token length, so no padding
enters the arithmetic; still, onnxruntime's matrix kernels round a row a little
differently when it is one of several, so a text's vector in a batch can differ
from its vector alone by about 1e-7 (never more than 1e-6 in the tests). With
`batch_size=1` each text is computed alone and its vector depends on it only.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from bot.safety.model_files import ModelFilesError, default_model_dir, verify

__all__ = [
    "DIMENSION",
    "MAX_TOKENS",
    "Encoder",
    "ModelUnavailable",
    "default_model_dir",
    "onnx_graph",
]

DIMENSION = 384
#: Tokens per text, [CLS] and [SEP] included; longer texts are cut (at the end).
MAX_TOKENS = 128
LAYERS = 6
HEADS = 12
HEAD_SIZE = DIMENSION // HEADS
INTERMEDIATE = 1536
LAYER_NORM_EPS = 1e-12

Runtime = Literal["onnxruntime", "numpy"]
Vectors = npt.NDArray[np.float32]


class ModelUnavailable(Exception):
    """The model cannot be used: a file is missing or not the pinned one, or a
    runtime library is not installed. The message says which and how to fix it."""


# -- The weights ----------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """One tensor of a safetensors file: where its bytes are."""

    dtype: str
    shape: tuple[int, ...]
    offset: int  # from the start of the file
    length: int


def read_safetensors_header(path: Path) -> dict[str, Tensor]:
    """The tensors of a safetensors file: an 8-byte little-endian header length,
    a JSON header, then the raw little-endian data."""
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    base = 8 + size
    return {
        name: Tensor(
            info["dtype"],
            tuple(info["shape"]),
            base + info["data_offsets"][0],
            info["data_offsets"][1] - info["data_offsets"][0],
        )
        for name, info in header.items()
        if name != "__metadata__"
    }


def _layer(i: int) -> str:
    return f"encoder.layer.{i}."


# -- The ONNX graph, written without the onnx package ---------------------------
# A minimal protobuf writer for the few ONNX messages used (field numbers from
# onnx.proto). Fields are written in a fixed order, so the bytes are reproducible.


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64: negative numbers as two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


_FLOAT, _INT64 = 1, 7  # TensorProto.DataType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType


def _attribute(name: str, value: float | int | list[int]) -> bytes:
    if isinstance(value, list):
        body = b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    elif isinstance(value, float):
        body = _float(2, value) + _int(20, _ATTR_FLOAT)
    else:
        body = _int(3, value) + _int(20, _ATTR_INT)
    return _bytes(1, name) + body


def _value_info(name: str, elem_type: int, dims: Sequence[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


class _Graph:
    def __init__(self, weights_file: str) -> None:
        self.weights_file = weights_file
        self.nodes: list[bytes] = []
        self.initializers: list[bytes] = []
        self.count = 0

    def external(self, name: str, tensor: Tensor) -> str:
        """An initializer whose bytes stay in the weights file."""
        location = [("location", self.weights_file), ("offset", str(tensor.offset)),
                    ("length", str(tensor.length))]  # fmt: skip
        self.initializers.append(
            b"".join(_int(1, d) for d in tensor.shape)
            + _int(2, _FLOAT if tensor.dtype == "F32" else _INT64)
            + _bytes(8, name)
            + b"".join(_bytes(13, _bytes(1, k) + _bytes(2, v)) for k, v in location)
            + _int(14, 1)  # data_location: EXTERNAL
        )
        return name

    def constant(self, name: str, value: npt.ArrayLike, dtype: type) -> str:
        array: npt.NDArray[Any] = np.asarray(value, dtype=dtype)
        self.initializers.append(
            b"".join(_int(1, d) for d in array.shape)
            + _int(2, _FLOAT if dtype is np.float32 else _INT64)
            + _bytes(8, name)
            + _bytes(9, array.astype(array.dtype.newbyteorder("<")).tobytes())
        )
        return name

    def node(self, op: str, *inputs: str, output: str | None = None, **attrs: Any) -> str:
        self.count += 1
        out = output or f"{op.lower()}_{self.count}"
        self.nodes.append(
            b"".join(_bytes(1, i) for i in inputs)
            + _bytes(2, out)
            + _bytes(3, f"{op}_{self.count}")
            + _bytes(4, op)
            + b"".join(_bytes(5, _attribute(k, v)) for k, v in attrs.items())
        )
        return out

    def split3(self, x: str) -> tuple[str, str, str]:
        self.count += 1
        outs = tuple(f"split_{self.count}_{j}" for j in range(3))
        sizes = self.constant(f"split_sizes_{self.count}", [DIMENSION] * 3, np.int64)
        self.nodes.append(
            _bytes(1, x) + _bytes(1, sizes) + b"".join(_bytes(2, o) for o in outs)
            + _bytes(3, f"Split_{self.count}") + _bytes(4, "Split")
            + _bytes(5, _attribute("axis", -1))
        )  # fmt: skip
        return outs[0], outs[1], outs[2]

    def linear(self, x: str, weight: Tensor, bias: Tensor, name: str) -> str:
        """x @ W.T + b, W as stored (out, in); the transpose is folded at load."""
        w = self.node("Transpose", self.external(name + ".weight", weight), perm=[1, 0])
        return self.node("Add", self.node("MatMul", x, w), self.external(name + ".bias", bias))

    def layer_norm(self, x: str, tensors: dict[str, Tensor], name: str) -> str:
        return self.node(
            "LayerNormalization", x,
            self.external(name + ".weight", tensors[name + ".weight"]),
            self.external(name + ".bias", tensors[name + ".bias"]),
            axis=-1, epsilon=LAYER_NORM_EPS,
        )  # fmt: skip

    def model(self, inputs: list[bytes], outputs: list[bytes]) -> bytes:
        graph = (
            b"".join(_bytes(1, n) for n in self.nodes)
            + _bytes(2, "all-MiniLM-L6-v2")
            + b"".join(_bytes(5, t) for t in self.initializers)
            + b"".join(_bytes(11, v) for v in inputs)
            + b"".join(_bytes(12, v) for v in outputs)
        )
        return (
            _int(1, 8)  # ir_version
            + _bytes(2, "spbot")
            + _bytes(3, "1")
            + _bytes(7, graph)
            + _bytes(8, _bytes(1, "") + _int(2, 18))  # opset 18
        )


def onnx_graph(tensors: dict[str, Tensor], weights_file: str = "model.safetensors") -> bytes:
    """all-MiniLM-L6-v2 with pooling and normalisation, as a serialised ONNX model
    (opset 18). Inputs `input_ids` and `attention_mask`, int64 (batch, tokens);
    output `sentence_embedding`, float32 (batch, 384). Every weight is external
    data at its offset in `weights_file` (found in the folder given to the
    runtime), so the model is about 30 KB and a function of the header alone."""
    g = _Graph(weights_file)
    t = tensors
    zero = g.constant("zero_1d", [0], np.int64)
    one = g.constant("one", 1.0, np.float32)
    half = g.constant("half", 0.5, np.float32)
    sqrt2 = g.constant("sqrt2", np.sqrt(2.0), np.float32)
    lowest = g.constant("lowest", np.finfo(np.float32).min, np.float32)
    scale = g.constant("scale", 1.0 / np.sqrt(HEAD_SIZE), np.float32)
    axis1 = g.constant("axis_1", [1], np.int64)
    last = g.constant("axis_last", [-1], np.int64)
    heads = g.constant("shape_heads", [0, 0, HEADS, HEAD_SIZE], np.int64)
    hidden = g.constant("shape_hidden", [0, 0, DIMENSION], np.int64)

    # Embeddings: word + position + token type 0, then LayerNorm.
    words = g.node(
        "Gather", g.external("word", t["embeddings.word_embeddings.weight"]), "input_ids"
    )
    length = g.node("Shape", "input_ids", start=1, end=2)
    positions = g.node(
        "Slice", g.external("position", t["embeddings.position_embeddings.weight"]),
        zero, length, zero,
    )  # fmt: skip
    token_type = g.node(
        "Gather", g.external("token_type", t["embeddings.token_type_embeddings.weight"]),
        g.constant("zero", 0, np.int64), axis=0,
    )  # fmt: skip
    x = g.node("Add", g.node("Add", words, positions), token_type)
    x = g.layer_norm(x, t, "embeddings.LayerNorm")

    # Attention bias: 0 where the mask keeps a token, the lowest float elsewhere
    # (as transformers does); shape (batch, 1, 1, tokens).
    mask = g.node("Cast", "attention_mask", to=_FLOAT)
    bias = g.node(
        "Unsqueeze", g.node("Mul", g.node("Sub", one, mask), lowest),
        g.constant("axes_1_2", [1, 2], np.int64),
    )  # fmt: skip

    for i in range(LAYERS):
        p = _layer(i)
        qkv_w = g.node(
            "Concat",
            *(g.node("Transpose", g.external(f"{p}{n}.weight", t[f"{p}attention.self.{n}.weight"]),
                     perm=[1, 0]) for n in ("query", "key", "value")),
            axis=1,
        )  # fmt: skip
        qkv_b = g.node(
            "Concat",
            *(g.external(f"{p}{n}.bias", t[f"{p}attention.self.{n}.bias"])
              for n in ("query", "key", "value")),
            axis=0,
        )  # fmt: skip
        q, k, v = g.split3(g.node("Add", g.node("MatMul", x, qkv_w), qkv_b))
        q = g.node("Transpose", g.node("Reshape", q, heads), perm=[0, 2, 1, 3])
        k = g.node("Transpose", g.node("Reshape", k, heads), perm=[0, 2, 3, 1])
        v = g.node("Transpose", g.node("Reshape", v, heads), perm=[0, 2, 1, 3])
        scores = g.node("Add", g.node("Mul", g.node("MatMul", q, k), scale), bias)
        context = g.node("MatMul", g.node("Softmax", scores, axis=-1), v)
        context = g.node("Reshape", g.node("Transpose", context, perm=[0, 2, 1, 3]), hidden)
        out = g.linear(
            context, t[f"{p}attention.output.dense.weight"],
            t[f"{p}attention.output.dense.bias"], f"{p}attention.output.dense",
        )  # fmt: skip
        x = g.layer_norm(g.node("Add", out, x), t, f"{p}attention.output.LayerNorm")
        h = g.linear(
            x, t[f"{p}intermediate.dense.weight"], t[f"{p}intermediate.dense.bias"],
            f"{p}intermediate.dense",
        )  # fmt: skip
        # Exact GELU: h * (1 + erf(h / sqrt 2)) / 2.
        h = g.node(
            "Mul", g.node("Mul", h, g.node("Add", g.node("Erf", g.node("Div", h, sqrt2)), one)),
            half,
        )  # fmt: skip
        out = g.linear(
            h, t[f"{p}output.dense.weight"], t[f"{p}output.dense.bias"], f"{p}output.dense"
        )
        x = g.layer_norm(g.node("Add", out, x), t, f"{p}output.LayerNorm")

    # Mean over the kept tokens (count clamped at 1e-9), then x / max(|x|, 1e-12).
    kept = g.node("Unsqueeze", mask, last)
    total = g.node("ReduceSum", g.node("Mul", x, kept), axis1, keepdims=0)
    count = g.node(
        "Max", g.node("ReduceSum", kept, axis1, keepdims=0), g.constant("eps9", 1e-9, np.float32)
    )
    pooled = g.node("Div", total, count)
    norm = g.node(
        "Max", g.node("ReduceL2", pooled, last, keepdims=1), g.constant("eps12", 1e-12, np.float32)
    )
    g.node("Div", pooled, norm, output="sentence_embedding")
    return g.model(
        [_value_info("input_ids", _INT64, ["batch", "tokens"]),
         _value_info("attention_mask", _INT64, ["batch", "tokens"])],
        [_value_info("sentence_embedding", _FLOAT, ["batch", DIMENSION])],
    )  # fmt: skip


# -- The numpy forward pass -------------------------------------------------------

# erf as a rational function on [-4, 4] (the float32 approximation of Eigen and
# XLA): within 5e-7 of math.erf everywhere, which is float32 rounding.
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)  # fmt: skip
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)  # fmt: skip


def _erf(x: Vectors) -> Vectors:
    x = np.clip(x, -4.0, 4.0)
    x2 = x * x
    p = np.full_like(x, _ERF_P[0])
    for c in _ERF_P[1:]:
        p *= x2
        p += np.float32(c)
    q = np.full_like(x, _ERF_Q[0])
    for c in _ERF_Q[1:]:
        q *= x2
        q += np.float32(c)
    return x * p / q


def _gelu(x: Vectors) -> Vectors:
    """Exact GELU, x * (1 + erf(x / sqrt 2)) / 2, in float32."""
    y = _erf(x * np.float32(1.0 / np.sqrt(2.0)))
    y += np.float32(1.0)
    y *= x
    y *= np.float32(0.5)
    return y


def _layer_norm(x: Vectors, weight: Vectors, bias: Vectors) -> Vectors:
    centred = x - x.mean(-1, keepdims=True)
    variance = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(variance + np.float32(LAYER_NORM_EPS)) * weight + bias


@dataclass(frozen=True)
class _NumpyLayer:
    qkv: Vectors  # (384, 1152): query, key, value side by side
    qkv_b: Vectors
    out: Vectors
    out_b: Vectors
    norm1: tuple[Vectors, Vectors]
    up: Vectors
    up_b: Vectors
    down: Vectors
    down_b: Vectors
    norm2: tuple[Vectors, Vectors]


class _NumpyBert:
    """The forward pass in numpy (float32). Weights are read from a memory map of
    the safetensors file; the dense layers' matrices are copied once, transposed,
    so that every product is a plain row-major GEMM."""

    def __init__(self, path: Path, tensors: dict[str, Tensor]) -> None:
        self._map = np.memmap(path, dtype=np.uint8, mode="r")

        def get(name: str) -> Vectors:
            t = tensors[name]
            raw = self._map[t.offset : t.offset + t.length]
            return raw.view(np.float32).reshape(t.shape)

        def copy(name: str) -> Vectors:
            return np.array(get(name))

        def transposed(name: str) -> Vectors:
            return np.ascontiguousarray(get(name).T)

        def norm(name: str) -> tuple[Vectors, Vectors]:
            return copy(name + ".weight"), copy(name + ".bias")

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type = copy("embeddings.token_type_embeddings.weight")[0]
        self.norm = norm("embeddings.LayerNorm")
        self.layers = []
        for i in range(LAYERS):
            p = _layer(i)
            names = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
            self.layers.append(
                _NumpyLayer(
                    qkv=np.concatenate([transposed(n + ".weight") for n in names], axis=1),
                    qkv_b=np.concatenate([get(n + ".bias") for n in names]),
                    out=transposed(p + "attention.output.dense.weight"),
                    out_b=copy(p + "attention.output.dense.bias"),
                    norm1=norm(p + "attention.output.LayerNorm"),
                    up=transposed(p + "intermediate.dense.weight"),
                    up_b=copy(p + "intermediate.dense.bias"),
                    down=transposed(p + "output.dense.weight"),
                    down_b=copy(p + "output.dense.bias"),
                    norm2=norm(p + "output.LayerNorm"),
                )
            )

    def __call__(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Vectors:
        batch, length = ids.shape
        x = self.word[ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, *self.norm)
        keep = mask.astype(np.float32)
        bias = ((1.0 - keep) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(HEAD_SIZE))
        for w in self.layers:
            qkv = (x @ w.qkv + w.qkv_b).reshape(batch, length, 3, HEADS, HEAD_SIZE)
            q, k, v = qkv.transpose(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSION)
            x = _layer_norm(context @ w.out + w.out_b + x, *w.norm1)
            h = _gelu(x @ w.up + w.up_b)
            x = _layer_norm(h @ w.down + w.down_b + x, *w.norm2)
        kept = keep[:, :, None]
        pooled = (x * kept).sum(1) / np.maximum(kept.sum(1), np.float32(1e-9))
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, np.float32(1e-12))).astype(np.float32)


class _OnnxBert:
    def __init__(self, folder: Path, tensors: dict[str, Tensor], threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelUnavailable(
                "onnxruntime is not installed: `pip install onnxruntime`, or load the "
                "encoder with runtime='numpy'"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Where the external data (model.safetensors) is, for a model given as bytes.
        options.add_session_config_entry(
            "session.model_external_initializers_file_folder_path", str(folder)
        )
        try:
            self.session = ort.InferenceSession(
                onnx_graph(tensors), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types, or RuntimeError
            raise ModelUnavailable(
                f"onnxruntime {ort.__version__} could not load the model from {folder} "
                f"(it needs 1.21 or later): {exc}"
            ) from exc

    def __call__(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Vectors:
        (out,) = self.session.run(
            ["sentence_embedding"], {"input_ids": ids, "attention_mask": mask}
        )
        return np.asarray(out, dtype=np.float32)


# -- The encoder -----------------------------------------------------------------


class Encoder:
    """all-MiniLM-L6-v2 sentence embeddings. Build with `Encoder.load`.

    Safe to share between coroutines (it holds no per-call state); `encode` is
    CPU-bound, so an asyncio caller should run it in a worker thread."""

    def __init__(self, tokenizer: Any, forward: Any, runtime: Runtime, batch_size: int) -> None:
        self._tokenizer = tokenizer
        self._forward = forward
        self.runtime: Runtime = runtime
        self.batch_size = batch_size

    @classmethod
    def load(
        cls,
        folder: Path | str | None = None,
        *,
        runtime: Runtime = "onnxruntime",
        threads: int = 1,
        batch_size: int = 32,
        check_hashes: bool = True,
    ) -> Encoder:
        """Load the model from `folder` (default: `default_model_dir()`), after
        checking every file against its pinned sha256 (about 70 ms; skip with
        `check_hashes=False`, which still checks that each is there and its size).

        `threads`: CPU threads for one call (onnxruntime only; numpy uses its
        BLAS's setting). Raises `ModelUnavailable` saying what is wrong."""
        directory = Path(folder) if folder is not None else default_model_dir()
        if runtime not in ("onnxruntime", "numpy"):
            raise ValueError(f"runtime must be 'onnxruntime' or 'numpy', not {runtime!r}")
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be at least 1")
        try:
            verify(directory, hashes=check_hashes)
        except ModelFilesError as exc:
            raise ModelUnavailable(str(exc)) from exc
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailable("the `tokenizers` package is not installed") from exc
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        weights = directory / "model.safetensors"
        tensors = read_safetensors_header(weights)
        forward = (
            _OnnxBert(directory, tensors, threads)
            if runtime == "onnxruntime"
            else _NumpyBert(weights, tensors)
        )
        return cls(tokenizer, forward, runtime, batch_size)

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def max_tokens(self) -> int:
        return MAX_TOKENS

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids the model sees for each text ([CLS] ... [SEP], at most
        128), exactly as `tokenizer.json` defines them."""
        if isinstance(texts, str):
            raise TypeError("encode a list of texts, not one str")
        return [self._tokenizer.encode(text).ids for text in texts]

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 vector per text: shape (len(texts), 384)."""
        ids = self.tokenize(texts)
        out = np.zeros((len(ids), DIMENSION), dtype=np.float32)
        for rows in self._batches(ids):
            batch = np.array([ids[r] for r in rows], dtype=np.int64)
            out[rows] = self._forward(batch, np.ones_like(batch))
        return out

    def _batches(self, ids: list[list[int]]) -> Iterator[list[int]]:
        """Row numbers, grouped by token length, at most batch_size a group, so
        that no batch needs padding."""
        by_length: dict[int, list[int]] = {}
        for row, tokens in enumerate(ids):
            by_length.setdefault(len(tokens), []).append(row)
        for length in sorted(by_length):
            rows = by_length[length]
            for start in range(0, len(rows), self.batch_size):
                yield rows[start : start + self.batch_size]
