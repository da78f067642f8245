"""Text encoders: MiniLM for real (it ships in a package), the CLIP path on a tiny local CLIP and
its error without network, the per-caption cache (memory and disk), bad input."""
from __future__ import annotations

import json
import logging

import pytest
import torch

from tenderlib.models import text as tx
from tenderlib.models.text import TextEncoderConfig, TextEncoderUnavailable, load_text_encoder

LEFT, RIGHT = "a person waves the left hand", "a person waves the right hand"
# token lengths (with [CLS] and [SEP]) 8 8 5 5 5 5 4 3 3 3 3 13 13 12 9 8: several captions share a
# length, the shortest passes need copies to reach a multiple of 4 token rows
VARIED = [LEFT, RIGHT, "a person bows", "a person nods", "a person walks", "someone hops", "she smiles",
          "smiles", "nods", "jump", "waves", "the person claps both hands above the head three times",
          "someone jumps forward twice and then sits down on the floor",
          "a man turns to the left and raises both arms", "a woman kicks with the right foot",
          "a child spins around twice quickly"]


def _count_rows(encoder) -> list[int]:
    """Captions of every forward pass of the encoder's network, appended as they run: distinct
    rows, as a short pass is topped up with copies of its first caption."""
    rows: list[int] = []
    encoder.model.register_forward_hook(
        lambda m, args, kwargs, out: rows.append(len({tuple(r) for r in kwargs["input_ids"].tolist()})),
        with_kwargs=True)
    return rows


def _per_caption(texts, f) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """caption -> (unpadded token features (L_i, C), pooled vector (C,))."""
    return {t: (f.tokens[b][f.mask[b]], f.pooled[b]) for b, t in enumerate(texts)}


def _assert_bit_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for t in a:
        assert torch.equal(a[t][0], b[t][0]) and torch.equal(a[t][1], b[t][1]), t


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny forward passes: one thread avoids thread contention on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def minilm():
    return load_text_encoder(TextEncoderConfig())


@pytest.fixture
def fresh_minilm():
    """A new encoder (empty caches) each test; weights load in well under a second once imported."""
    return lambda **kw: load_text_encoder(TextEncoderConfig(**kw))


# --- MiniLM ---------------------------------------------------------------------------------


def test_minilm_shapes_mask_and_normalisation(minilm):
    texts = ["a person walks", LEFT, "someone jumps forward twice and then sits down on the floor"]
    f = minilm.encode(texts)
    lengths = [len(ids) for ids in minilm.tokenizer(texts)["input_ids"]]  # with [CLS] and [SEP]
    assert minilm.dim == minilm.token_dim == 384 and minilm.context_length == 256 and minilm.name == "all-MiniLM-L6-v2"
    assert f.tokens.shape == (3, max(lengths), 384) and f.pooled.shape == (3, 384) and len(f) == 3
    assert f.tokens.dtype == torch.float32 and f.mask.dtype == torch.bool
    assert f.mask.sum(1).tolist() == lengths
    assert torch.all(f.tokens[~f.mask] == 0)  # padding is zero
    torch.testing.assert_close(f.pooled.norm(dim=-1), torch.ones(3))
    # pooled = L2-normalised mean of the token features over the mask (sentence-transformers' recipe)
    mean = (f.tokens * f.mask[..., None]).sum(1) / f.mask.sum(1, keepdim=True)
    torch.testing.assert_close(f.pooled, torch.nn.functional.normalize(mean, dim=-1), atol=1e-6, rtol=0)
    assert not f.pooled.requires_grad and not any(p.requires_grad for p in minilm.model.parameters())
    assert not minilm.model.training


def test_minilm_matches_sentence_transformers(minilm):
    """Parity with the reference library: values computed once with sentence-transformers 6.2
    (SentenceTransformer(<package model folder>).encode), first six dimensions and two cosines."""
    expected = torch.tensor([[-0.030557, -0.005424, 0.032564, 0.014651, -0.085177, -0.013864],
                             [-0.033014, -0.012153, 0.025070, -0.005885, -0.115484, 0.005716],
                             [0.031665, -0.005481, 0.039484, 0.055379, -0.003095, 0.003275]])
    f = minilm.encode([LEFT, RIGHT, "she smiles"])
    torch.testing.assert_close(f.pooled[:, :6], expected, atol=2e-6, rtol=0)
    assert float(f.pooled[0] @ f.pooled[1]) == pytest.approx(0.9755247, abs=1e-5)
    assert float(f.pooled[0] @ f.pooled[2]) == pytest.approx(0.1353197, abs=1e-5)


def test_batched_features_equal_one_caption_at_a_time(fresh_minilm):
    """Bit-equal whatever the batch size. (The batch size used to be part of the fingerprint, as
    batches mixing lengths changed features by rounding; a pass now holds one token length.)"""
    assert TextEncoderConfig().batch_size == 32
    batched = fresh_minilm()
    rows = _count_rows(batched)
    together = _per_caption(VARIED, batched.encode(VARIED))
    assert sorted(rows) == [1, 1, 1, 2, 3, 4, 4]  # one pass per token length (7 lengths)
    one = fresh_minilm(batch_size=1)
    alone = {t: _per_caption([t], one.encode([t]))[t] for t in VARIED}  # one call per caption
    _assert_bit_equal(together, alone)
    for size in (2, 3, 64):
        _assert_bit_equal(_per_caption(VARIED, fresh_minilm(batch_size=size).encode(VARIED)), alone)
    assert batched.fingerprint == one.fingerprint


def test_passes_hold_one_token_length_and_at_least_32_token_rows_a_multiple_of_four(fresh_minilm):
    enc = fresh_minilm(batch_size=3)
    passes: list[tuple[int, int, bool]] = []  # (captions, tokens, any padding)
    enc.model.register_forward_hook(
        lambda m, args, kwargs, out: passes.append((*kwargs["input_ids"].shape, not kwargs["attention_mask"].all())),
        with_kwargs=True)
    enc.encode(VARIED)
    assert not any(pad for *_, pad in passes)
    assert all(b * n % 4 == 0 and b * n >= 32 for b, n, _ in passes)
    # (captions with copies, tokens): at most 3 captions of a length a pass, e.g. the four 3-token
    # ones as 3 + 9 copies and 1 + 11 copies, the 12-token one with 2 copies
    assert sorted((b, n) for b, n, _ in passes) == [(3, 12), (4, 8), (4, 9), (4, 13), (8, 4), (8, 5), (8, 5),
                                                    (12, 3), (12, 3)]
    assert enc.cache_info().encoded == len(VARIED)  # copies are not counted


def test_order_and_company_do_not_change_features(fresh_minilm):
    a = _per_caption(VARIED, fresh_minilm().encode(VARIED))
    shuffled = VARIED[::-1][1::2] + VARIED[::-1][::2]
    _assert_bit_equal(_per_caption(shuffled, fresh_minilm().encode(shuffled)), a)
    warm = fresh_minilm()  # some captions cached first, in other company
    warm.encode(["a person runs", "nods", "a person bows", "someone kicks the ball away"])
    _assert_bit_equal(_per_caption(VARIED, warm.encode(VARIED)), a)


@pytest.mark.parametrize("first, second", [(1, 32), (32, 1)])
def test_cache_is_shared_across_batch_sizes(fresh_minilm, tmp_path, first, second):
    filled = fresh_minilm(batch_size=first, disk_cache=True, cache_dir=str(tmp_path))
    a = _per_caption(VARIED, filled.encode(VARIED))
    reader = fresh_minilm(batch_size=second, disk_cache=True, cache_dir=str(tmp_path))
    rows = _count_rows(reader)
    b = _per_caption(VARIED, reader.encode(VARIED))
    info = reader.cache_info()
    assert rows == [] and info.encoded == 0 and info.disk_hits == len(VARIED)
    _assert_bit_equal(a, b)


def test_each_distinct_caption_runs_through_the_model_once(fresh_minilm):
    enc = fresh_minilm()
    rows = _count_rows(enc)
    first = enc.encode(["b caption", "a caption", "b caption"])
    assert sum(rows) == 2  # duplicates inside a call are encoded once
    again = enc.encode(["a caption", "c caption", "b caption"])
    assert sum(rows) == 3  # only "c caption" is new
    info = enc.cache_info()
    assert (info.hits, info.encoded, info.size) == (2, 3, 3)
    assert torch.equal(again.pooled[0], first.pooled[1]) and torch.equal(again.pooled[2], first.pooled[0])
    assert torch.equal(first.pooled[0], first.pooled[2])


def test_memory_cache_is_lru(fresh_minilm):
    enc = fresh_minilm(memory_cache_size=2)
    rows = _count_rows(enc)
    enc.encode(["one"]), enc.encode(["two"]), enc.encode(["one"])  # "one" is now the most recent
    enc.encode(["three"])  # evicts "two"
    assert sum(rows) == 3
    enc.encode(["one"])
    assert sum(rows) == 3
    enc.encode(["two"])
    assert sum(rows) == 4 and enc.cache_info().size == 2


def test_disk_cache_is_safetensors_and_shared_across_instances(fresh_minilm, tmp_path):
    texts = [LEFT, RIGHT, "a person nods"]
    first = fresh_minilm(disk_cache=True, cache_dir=str(tmp_path))
    a = first.encode(texts)
    files = sorted(tmp_path.rglob("*"))
    entries = [p for p in files if p.is_file()]
    assert len(entries) == 3 and all(p.suffix == ".safetensors" for p in entries)
    second = fresh_minilm(disk_cache=True, cache_dir=str(tmp_path))
    rows = _count_rows(second)
    b = second.encode(texts[::-1])
    assert sum(rows) == 0 and second.cache_info().disk_hits == 3
    assert torch.equal(b.pooled.flip(0), a.pooled)
    # another configuration never reads these entries (the fingerprint is in the key)
    other = fresh_minilm(disk_cache=True, cache_dir=str(tmp_path), max_length=8)
    other_rows = _count_rows(other)
    other.encode(texts)
    assert sum(other_rows) == 3


def test_corrupt_disk_entry_is_recomputed(fresh_minilm, tmp_path, caplog):
    fresh_minilm(disk_cache=True, cache_dir=str(tmp_path)).encode([LEFT])
    (entry,) = [p for p in tmp_path.rglob("*.safetensors")]
    entry.write_bytes(b"\x00\x01 not a safetensors file")
    enc = fresh_minilm(disk_cache=True, cache_dir=str(tmp_path))
    rows = _count_rows(enc)
    with caplog.at_level(logging.WARNING, logger="tenderlib.models.text"):
        enc.encode([LEFT])
    assert sum(rows) == 1 and "unreadable text-cache entry" in caplog.text


def test_default_disk_cache_folder(tender_root):
    assert tx.default_cache_dir("all-MiniLM-L6-v2") == tender_root.resolve() / "outputs" / "cache" / "text" / "all-MiniLM-L6-v2"
    with pytest.raises(ValueError, match="encoder_name"):
        tx.default_cache_dir("../x")


def test_laterality_is_invisible_to_the_sentence_vector(minilm):
    """The problem MoLIP's side words meet: pooled MiniLM vectors of captions that differ only in the side
    are near-identical (cosine > 0.9). The token features at the side word do differ."""
    f = minilm.encode([LEFT, RIGHT])
    cos = float(f.pooled[0] @ f.pooled[1])
    assert cos > 0.9
    ids = minilm.tokenizer([LEFT])["input_ids"][0]
    side = ids.index(minilm.tokenizer.convert_tokens_to_ids("left"))
    tok_cos = torch.nn.functional.cosine_similarity(f.tokens[0, side], f.tokens[1, side], dim=0)
    assert tok_cos < cos


def test_long_captions_truncated_with_one_warning(fresh_minilm, caplog):
    enc = fresh_minilm(max_length=8)
    assert enc.context_length == 8
    long1, long2 = "a person " * 20 + "waves", "someone " * 30 + "jumps"
    with caplog.at_level(logging.WARNING, logger="tenderlib.models.text"):
        f = enc.encode([long1, "a person waves"])
        enc.encode([long2])
    warnings = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1 and "context of 8 tokens" in warnings[0].getMessage()
    assert enc.cache_info().truncated == 2
    assert f.mask.sum(1).tolist() == [8, 5]  # [CLS] a person waves [SEP] = 5
    ids = enc.tokenizer([long1], truncation=True, max_length=8)["input_ids"][0]
    assert ids[-1] == enc.tokenizer.sep_token_id  # the end token survives truncation
    exact = "a b c d e f"  # 6 words + 2 special tokens = exactly the context: not truncated
    enc.encode([exact])
    assert enc.cache_info().truncated == 2


def test_null_condition_is_the_empty_caption(minilm):
    null = minilm.null_features(3)
    assert null.tokens.shape == (3, 2, 384) and null.mask.all()  # [CLS] [SEP]
    assert torch.equal(null.pooled[0], null.pooled[2])
    with pytest.raises(ValueError, match="batch must be"):
        minilm.null_features(0)


@pytest.mark.parametrize("texts, match", [
    (["a person walks", ""], r"texts\[1\] is empty"),
    (["   "], r"texts\[0\] is empty or whitespace"),
    ("a person walks", "not a single string"),
    (["ok", 3], r"texts\[1\] must be a str"),
    ([], "at least one caption"),
])
def test_bad_captions_raise(minilm, texts, match):
    with pytest.raises(ValueError, match=match):
        minilm.encode(texts)


@pytest.mark.parametrize("kw, match", [
    ({"kind": "bert"}, "kind must be one of minilm, clip"),
    ({"max_length": 1}, "max_length must be an int >= 2"),
    ({"batch_size": 0}, r"batch_size must be an int >= 1 \(captions per forward pass\); got 0"),
    ({"batch_size": -1}, "batch_size must be an int >= 1.*got -1"),
    ({"batch_size": 8.0}, "batch_size must be an int >= 1.*got 8.0"),
    ({"batch_size": "32"}, "batch_size must be an int >= 1.*got '32'"),
    ({"batch_size": True}, "batch_size must be an int >= 1.*got True"),
    ({"memory_cache_size": -1}, "memory_cache_size must be"),
])
def test_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        TextEncoderConfig(**kw)


# --- CLIP -----------------------------------------------------------------------------------


def test_clip_without_network_says_what_to_do(monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    if isinstance(hub.try_to_load_from_cache(tx.CLIP_DEFAULT_MODEL, "config.json"), str):
        pytest.skip("a copy of CLIP is in this machine's Hugging Face cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TextEncoderUnavailable, match="download it once") as err:
        load_text_encoder(TextEncoderConfig(kind="clip"))
    msg = str(err.value)
    assert tx.CLIP_DEFAULT_MODEL in msg and "model='<folder>'" in msg and "kind='minilm'" in msg
    assert isinstance(err.value, OSError)


def test_clip_missing_local_folder_says_what_to_do(tmp_path):
    with pytest.raises(TextEncoderUnavailable, match="pass its path"):
        load_text_encoder(TextEncoderConfig(kind="clip", model=str(tmp_path / "no-such-clip"), local_files_only=True))


def _tiny_clip(folder, with_projection: bool = True):
    """A randomly initialised CLIP text tower with a letters-only BPE vocabulary, saved locally."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16).save_pretrained(folder)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, projection_dim=24,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1)
    torch.manual_seed(0)
    (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg).save_pretrained(folder)
    return folder


def test_clip_path_on_a_tiny_local_clip(tmp_path, caplog):
    enc = load_text_encoder(TextEncoderConfig(kind="clip", model=str(_tiny_clip(tmp_path / "tiny-clip"))))
    assert (enc.dim, enc.token_dim, enc.context_length, enc.name) == (24, 32, 16, "clip-tiny-clip")
    texts = ["hi", "a person waves", "x" * 40]  # 40 letters -> 42 tokens > 16
    with caplog.at_level(logging.WARNING, logger="tenderlib.models.text"):
        f = enc.encode(texts)
    assert f.tokens.shape == (3, 16, 32) and f.pooled.shape == (3, 24)
    assert f.mask.sum(1).tolist() == [4, 14, 16]  # letters + start + end tokens and "truncated" in caplog.text
    torch.testing.assert_close(f.pooled.norm(dim=-1), torch.ones(3))
    # independent: projected hidden state at the end-of-text token, run one caption at a time
    for b, t in enumerate(texts):
        ids = enc.tokenizer([t], truncation=True, max_length=16, return_tensors="pt")["input_ids"]
        assert ids[0, -1] == 1
        with torch.no_grad():
            hidden = enc.model.text_model(input_ids=ids).last_hidden_state[0]  # (L, 32)
            ref = torch.nn.functional.normalize(enc.model.text_projection(hidden[-1]), dim=0)
        torch.testing.assert_close(f.pooled[b], ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(f.tokens[b, : ids.shape[1]], hidden, atol=1e-5, rtol=0)


def test_clip_checkpoint_without_projection_is_rejected(tmp_path):
    folder = _tiny_clip(tmp_path / "no-proj", with_projection=False)
    assert "text_projection" not in json.dumps(json.loads((folder / "config.json").read_text()))
    with pytest.raises(TextEncoderUnavailable, match="lacks .*text_projection"):
        load_text_encoder(TextEncoderConfig(kind="clip", model=str(folder)))
