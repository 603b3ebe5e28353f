"""Variant-effect classification heads on a pretrained CharMambaLM backbone.

For a variant, a reference window of W bases centred on the allele (as in zero-shot scoring,
`genomamba.io.intervals.place_window`) and the alt window made from it by substituting the
allele both go through the backbone, on both strands (reverse-complement windows too, averaged).
Each window is pooled into [hidden at the allele's last base, mean hidden over the window]
(the allele's last base is the first position a causal model has seen all of the allele), and an
MLP classifies [ref, alt, alt - ref] (the difference-of-embeddings recipe of GPN / Nucleotide
Transformer probing). `freeze` picks what trains: "all" (head only; linear-probe style),
"last_k" (head + last `unfreeze_last_k` blocks and the final norm) or "none" (full fine-tune).

Saved as a head directory: config.json ("model_type": "variant_head", the head config, the
backbone config embedded, and the backbone's weights either embedded in model.safetensors
(fine-tuned, or asked for) or referenced by path + sha256 of its model.safetensors (frozen)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from genomamba import __version__
from genomamba.alphabet import PAD, TOKENS
from genomamba.device import resolve_device
from genomamba.errors import ConfigError, GenomambaError
from genomamba.models.config import ConfigDictMixin, MambaConfig
from genomamba.models.directory import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    config_section,
    file_sha256,
    load_state,
    read_typed_config,
    read_weights,
    write_model_directory,
)
from genomamba.models.base import tie_embedding_state
from genomamba.models.lm import CharMambaLM

__all__ = [
    "HEAD_MODEL_TYPE", "HeadConfig", "VariantEffectModel", "make_mlp",
]

HEAD_MODEL_TYPE = "variant_head"
FREEZE_MODES = ("all", "none", "last_k")


@dataclass
class HeadConfig(ConfigDictMixin):
    """Shape and training mode of a variant-effect head. Validated in `__post_init__`."""

    num_classes: int = 2  # 2: binary (P(class 1) is the score); > 2: multi-class
    class_names: list[str] | None = None  # label names, index = class id (kept for output headers)
    window: int = 128  # W, reference window in bp (alt window: W + len(ALT) - len(REF))
    strands: str = "both"  # "both": average features over forward and reverse-complement windows
    hidden_dim: int = 128  # MLP hidden width
    n_hidden: int = 1  # hidden layers of the MLP (0: a linear head)
    dropout: float = 0.1
    freeze: str = "all"  # "all" | "none" | "last_k"
    unfreeze_last_k: int = 0  # with freeze="last_k": blocks (from the top) that train

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError(f"HeadConfig.num_classes must be an integer >= 2, got {self.num_classes!r}")
        if self.class_names is not None:
            self.class_names = [str(c) for c in self.class_names]
            if len(self.class_names) != self.num_classes:
                raise ConfigError(
                    f"HeadConfig.class_names has {len(self.class_names)} names for num_classes={self.num_classes}"
                )
        if not isinstance(self.window, int) or self.window < 2:
            raise ConfigError(f"HeadConfig.window must be an integer >= 2, got {self.window!r}")
        if self.strands not in ("forward", "both"):
            raise ConfigError(f"HeadConfig.strands must be 'forward' or 'both', got {self.strands!r}")
        if self.freeze not in FREEZE_MODES:
            raise ConfigError(f"HeadConfig.freeze must be one of {FREEZE_MODES}, got {self.freeze!r}")
        if self.freeze == "last_k" and self.unfreeze_last_k < 1:
            raise ConfigError("HeadConfig.unfreeze_last_k must be >= 1 with freeze='last_k'")
        if self.hidden_dim < 1 or self.n_hidden < 0 or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(
                f"HeadConfig: hidden_dim >= 1, n_hidden >= 0, 0 <= dropout < 1 (got {self.hidden_dim}, "
                f"{self.n_hidden}, {self.dropout})"
            )


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def make_mlp(feature_dim: int, config: HeadConfig) -> nn.Sequential:
    """The head: LayerNorm -> n_hidden x (Linear, GELU, Dropout) -> Linear to num_classes.

    features `[B, feature_dim]` -> logits `[B, num_classes]`. The LayerNorm puts features of
    backbones of any scale on one footing, so one learning rate fits all.
    """
    layers: list[nn.Module] = [nn.LayerNorm(feature_dim)]
    width = feature_dim
    for _ in range(config.n_hidden):
        layers += [nn.Linear(width, config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout)]
        width = config.hidden_dim
    layers.append(nn.Linear(width, config.num_classes))
    return nn.Sequential(*layers)



class VariantEffectModel(nn.Module):
    """Backbone features of ref/alt windows -> MLP -> class logits.

    Args:
        backbone: a CharMambaLM (its `hidden_states` gives `[B, L, d_model]`).
        config: a HeadConfig.
        backbone_source: the backbone's model directory, if it came from one (lets a frozen
            head reference rather than copy the backbone weights on export).
    """

    model_type = HEAD_MODEL_TYPE

    def __init__(self, backbone: CharMambaLM, config: HeadConfig, backbone_source: str | Path | None = None):
        super().__init__()
        if not hasattr(backbone, "layers") or not hasattr(backbone, "hidden_states"):
            raise ConfigError(f"a variant head needs a neural backbone with hidden states, got {type(backbone).__name__}")
        self.config = config
        self.backbone = backbone
        self.backbone_source = str(Path(backbone_source).resolve()) if backbone_source else None
        d = backbone.config.d_model
        self.feature_dim = 6 * d  # [ref, alt, alt - ref] x [site, mean]
        self.head = make_mlp(self.feature_dim, config)
        self.apply_freeze()

    # ---- construction ----
    @classmethod
    def from_backbone(
        cls, path: str | Path, config: HeadConfig | None = None, device: str | torch.device = "cpu"
    ) -> VariantEffectModel:
        """A new head (`config`, default `HeadConfig()`) on the CharMambaLM model directory at
        `path`; the Hydra `_target_` of conf/model/variant_head.yaml."""
        device = resolve_device(device)
        backbone = CharMambaLM.from_pretrained(path, device=device)
        return cls(backbone, config or HeadConfig(), backbone_source=path).to(device)

    def apply_freeze(self) -> None:
        """Set `requires_grad` of the backbone from `config.freeze` (the head always trains)."""
        mode = self.config.freeze
        for p in self.backbone.parameters():
            p.requires_grad = mode == "none"
        if mode == "last_k":
            k = self.config.unfreeze_last_k
            if k > len(self.backbone.layers):
                raise ConfigError(f"HeadConfig.unfreeze_last_k={k} but the backbone has {len(self.backbone.layers)} layers")
            for module in [*self.backbone.layers[-k:], self.backbone.norm_f]:
                for p in module.parameters():
                    p.requires_grad = True

    @property
    def backbone_trainable(self) -> bool:
        return self.config.freeze != "all"

    def train(self, mode: bool = True) -> VariantEffectModel:
        super().train(mode)
        if not self.backbone_trainable:
            self.backbone.eval()  # a frozen backbone is a fixed feature extractor
        return self

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # ---- forward ----
    def _pool(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """tokens `[B, S, L]`, pos `[B, S]` -> `[B, 2 * d_model]` averaged over strands S."""
        B, S, L = tokens.shape
        h, _ = self.backbone.hidden_states(tokens.reshape(B * S, L))  # (B*S, L, D)
        h = h.float()
        mask = (tokens.reshape(B * S, L) != PAD).unsqueeze(-1).float()  # (B*S, L, 1)
        mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B*S, D)
        site = h[torch.arange(B * S, device=h.device), pos.reshape(B * S)]  # (B*S, D)
        return torch.cat([site, mean], dim=-1).reshape(B, S, -1).mean(1)  # (B*S, 2D) -> (B, 2D)

    def features(
        self, ref: torch.Tensor, alt: torch.Tensor, ref_pos: torch.Tensor, alt_pos: torch.Tensor
    ) -> torch.Tensor:
        """Backbone features `[B, 6 * d_model]` = [ref, alt, alt - ref].

        Args:
            ref, alt: tokens `[B, 2, L]` (strand 0 forward, 1 reverse complement; PAD on the right).
            ref_pos, alt_pos: pooling positions `[B, 2]` (see `genomamba.data.variant_inputs.build_inputs`).
        """
        if self.config.strands == "forward":
            ref, alt, ref_pos, alt_pos = ref[:, :1], alt[:, :1], ref_pos[:, :1], alt_pos[:, :1]
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.backbone_trainable):
            f_ref = self._pool(ref, ref_pos)
            f_alt = self._pool(alt, alt_pos)
        return torch.cat([f_ref, f_alt, f_alt - f_ref], dim=-1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """features `[B, 6 * d_model]` -> logits `[B, num_classes]` (the MLP alone)."""
        return self.head(features)

    def forward(
        self, ref: torch.Tensor, alt: torch.Tensor, ref_pos: torch.Tensor, alt_pos: torch.Tensor
    ) -> torch.Tensor:
        """Logits `[B, num_classes]`; arguments as in `features`."""
        return self.classify(self.features(ref, alt, ref_pos, alt_pos))

    @torch.inference_mode()
    def predict_proba(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class probabilities `[B, num_classes]` of a `genomamba.data.variant_inputs.collate_inputs` batch (eval mode)."""
        was = self.training
        self.eval()
        device = next(self.parameters()).device
        logits = self(*(batch[k].to(device) for k in ("ref", "alt", "ref_pos", "alt_pos")))
        self.train(was)
        return torch.softmax(logits.float(), dim=-1)

    # ---- head directory ----
    def save_pretrained(self, path: str | Path, metadata: dict | None = None, embed_backbone: bool | None = None) -> Path:
        """Write a head directory: config.json + model.safetensors (each atomically).

        Args:
            path: directory (created).
            metadata: training metadata kept under "training".
            embed_backbone: store the backbone weights in model.safetensors. Default: yes when
                the backbone was fine-tuned (`freeze` != "all") or has no source directory;
                otherwise the backbone is referenced by absolute path + sha256 of its weights.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if embed_backbone is None:
            embed_backbone = self.backbone_trainable or self.backbone_source is None
        state = {f"head.{k}": v for k, v in self.head.state_dict().items()}
        backbone: dict = {"model_type": self.backbone.model_type, "model": self.backbone.config.to_dict(),
                          "training": getattr(self.backbone, "training_metadata", {})}
        if embed_backbone:
            bstate = self.backbone.state_dict()
            if self.backbone.config.tie_embeddings:
                bstate.pop("lm_head.weight", None)  # shared with the embedding; re-tied on load
            state.update({f"backbone.{k}": v for k, v in bstate.items()})
            backbone["weights"] = "embedded"
        else:
            src = Path(self.backbone_source)
            backbone.update(weights="referenced", path=str(src), sha256=file_sha256(src / WEIGHTS_NAME))
        state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        cfg = {
            "model_type": HEAD_MODEL_TYPE,
            "genomamba_version": __version__,
            "head": self.config.to_dict(),
            "backbone": backbone,
            "alphabet": {"tokens": TOKENS},
            "training": metadata or {},
        }
        return write_model_directory(path, cfg, state)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device = "cpu", backbone_dir: str | Path | None = None
    ) -> VariantEffectModel:
        """Load a head directory written by `save_pretrained` (or `genomamba-train experiment=vep_*`).

        Args:
            path: the head directory.
            device: where to put the model (eval mode).
            backbone_dir: where the referenced backbone lives now, if it moved.

        Raises:
            GenomambaError: not a head directory, a damaged one (see `genomamba.models.directory`),
                or the referenced backbone is missing, damaged or has different weights than when
                the head was trained (sha256); each names the file (and tensor).
            ConfigError: an unknown or invalid "head" key in config.json (names key and file).
        """
        path = Path(path)
        cfg, config = read_typed_config(path, HEAD_MODEL_TYPE, HeadConfig, section="head")
        binfo = config_section(cfg, "backbone", path)
        state = read_weights(path)
        source = None
        if binfo.get("weights") == "embedded":
            backbone = CharMambaLM(MambaConfig.from_dict(config_section(binfo, "model", path), source=path / CONFIG_NAME))
            bstate = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
            load_state(backbone, tie_embedding_state(backbone, bstate), path, prefix="backbone.")
            backbone.training_metadata = binfo.get("training", {})
        else:
            source = Path(backbone_dir or binfo.get("path", ""))
            if not (source / WEIGHTS_NAME).is_file():
                raise GenomambaError(
                    f"{path}: the referenced backbone {source} is missing; pass backbone_dir= (its new location)"
                )
            digest = file_sha256(source / WEIGHTS_NAME)
            if digest != binfo.get("sha256"):
                raise GenomambaError(
                    f"{path}: the backbone at {source} has different weights (sha256 {digest[:12]}...) than the one "
                    f"this head was trained on ({str(binfo.get('sha256'))[:12]}...)"
                )
            backbone = CharMambaLM.from_pretrained(source)
        prefixes = ("head.",) if source is not None else ("head.", "backbone.")
        unexpected = [k for k in state if not k.startswith(prefixes)]
        if unexpected:
            raise GenomambaError(f"{path / WEIGHTS_NAME}: unexpected tensor {unexpected[0]!r} for this head directory")
        model = cls(backbone, config, backbone_source=source)
        load_state(model.head, {k[len("head."):]: v for k, v in state.items() if k.startswith("head.")}, path, prefix="head.")
        model.training_metadata = cfg.get("training", {})
        return model.to(resolve_device(device)).eval()

