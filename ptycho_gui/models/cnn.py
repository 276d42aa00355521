"""PtychoPINN's default ``cnn`` generator as plain torch modules (contract §1.8, §2.2).

The module tree reproduces PtychoPINN's ``state_dict()`` keys exactly (every key starts with
``model.``), so a real ``model.pth`` or Lightning ``state_dict`` loads with ``strict=True``.
Only the inference path (``forward_predict``) is implemented: the input is already multiplied by
the input scale, and the output is the complex64 object patch stack ``(B, C, N, N)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED_N: tuple[int, ...] = (64, 128, 256)
CNN_OUTPUT_MODES: tuple[str, ...] = ("amp_phase", "real_imag")
PARITY_SCALE_MODES: tuple[str, ...] = ("off", "tied", "input", "fixed")
"""Modes of contract §2.4; every mode but 'off' divides the input by exp(log_scale_delta)."""
CBAM_REDUCTION = 16

_ENCODER_MULTIPLIERS = {64: (32, 64, 128), 128: (16, 32, 64, 128), 256: (8, 16, 32, 64, 128)}
_DECODER_MULTIPLIERS = {64: (128, 64, 32), 128: (128, 128, 64, 32), 256: (128, 256, 128, 64, 32)}


@dataclass(frozen=True)
class CnnConfig:
    """The fields that decide the cnn's tensors and its inference forward pass.

    Defaults are PtychoPINN's torch ``ModelConfig`` defaults. Combinations PtychoPINN cannot run,
    or that this app does not reproduce exactly, raise ``ValueError`` naming the field.
    """

    N: int
    C: int = 1
    """Channels per group, gridsize**2 (PtychoPINN's ``C_model``)."""
    n_filters_scale: int = 2
    object_big: bool = True
    probe_big: bool = True
    amp_activation: str = "silu"
    """'sigmoid' runs as sigmoid; every other name runs as SiLU (contract P6)."""
    cnn_output_mode: str = "amp_phase"
    """The effective head parameterization: 'amp_phase' or 'real_imag' (Unsupervised only)."""
    cbam_encoder: bool = True
    eca_encoder: bool = False
    batch_norm: bool = False
    cbam_bottleneck: bool = False
    cbam_decoder: bool = False
    eca_decoder: bool = False
    spatial_decoder: bool = False
    decoder_spatial_kernel: int = 7
    use_shared_decoder: bool = False
    use_legacy_decoder_channel_override: bool = False
    num_datasets: int = 1
    parity_scale_mode: str = "off"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def gridsize(self) -> int:
        """Side of the square group: C = gridsize**2."""
        return math.isqrt(self.C)

    @property
    def channels(self) -> int:
        """Network input and output channels: C when object_big, else 1."""
        return self.C if self.object_big else 1

    @property
    def encoder_filters(self) -> tuple[int, ...]:
        """Encoder channel ladder, input channels first (contract §1.8)."""
        return (self.channels,) + tuple(m * self.n_filters_scale for m in _ENCODER_MULTIPLIERS[self.N])

    @property
    def decoder_filters(self) -> tuple[int, ...]:
        """Decoder channel ladder from the bottleneck down to the head input (32·s)."""
        return tuple(m * self.n_filters_scale for m in _DECODER_MULTIPLIERS[self.N])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(cfg: CnnConfig) -> None:
    """Refuse every configuration the network cannot be built or run for, naming the cause."""
    if not _is_int(cfg.N) or cfg.N not in SUPPORTED_N:
        raise ValueError(f"N={cfg.N!r} is not supported: PtychoPINN's cnn exists for N in {SUPPORTED_N}")
    if not _is_int(cfg.C) or cfg.C < 1 or math.isqrt(cfg.C) ** 2 != cfg.C:
        raise ValueError(f"C={cfg.C!r} is not a gridsize squared (1, 4, 9, ...)")
    if not _is_int(cfg.n_filters_scale) or cfg.n_filters_scale < 1:
        raise ValueError(f"n_filters_scale={cfg.n_filters_scale!r} must be a positive integer")
    if not _is_int(cfg.num_datasets) or cfg.num_datasets < 1:
        raise ValueError(f"num_datasets={cfg.num_datasets!r} must be a positive integer")
    for flag in (f.name for f in fields(cfg) if f.type == "bool"):
        if not isinstance(getattr(cfg, flag), bool):
            raise ValueError(f"{flag}={getattr(cfg, flag)!r} must be True or False")
    if cfg.C > 1 and not cfg.object_big:
        raise ValueError(
            f"gridsize {cfg.gridsize} with object_big=False cannot run: the network takes 1 channel "
            f"but every group has {cfg.C} (contract P9)"
        )
    if not isinstance(cfg.amp_activation, str):
        raise ValueError(f"amp_activation={cfg.amp_activation!r} must be a name")
    if cfg.cnn_output_mode not in CNN_OUTPUT_MODES:
        raise ValueError(f"cnn_output_mode={cfg.cnn_output_mode!r} is not one of {CNN_OUTPUT_MODES}")
    if cfg.use_shared_decoder:
        raise ValueError("use_shared_decoder=True (PtychoPINN's Decoder_shared) is not supported")
    if cfg.use_legacy_decoder_channel_override:
        raise ValueError("use_legacy_decoder_channel_override=True (legacy head channel split) is not supported")
    if cfg.parity_scale_mode not in PARITY_SCALE_MODES:
        raise ValueError(f"parity_scale_mode={cfg.parity_scale_mode!r} is not supported (only {PARITY_SCALE_MODES})")
    head_width = 32 * cfg.n_filters_scale
    if cfg.channels >= head_width:
        raise ValueError(
            f"{cfg.channels} output channels leave no input channels for the head's centre branch "
            f"(32·n_filters_scale = {head_width})"
        )
    if cfg.spatial_decoder and (not _is_int(cfg.decoder_spatial_kernel) or cfg.decoder_spatial_kernel < 1):
        raise ValueError(f"decoder_spatial_kernel={cfg.decoder_spatial_kernel!r} must be a positive integer")
    _validate_encoder_cbam_width(cfg)


def _validate_encoder_cbam_width(cfg: CnnConfig) -> None:
    """A CBAM on fewer than 16 channels has a 0-width hidden layer: PtychoPINN cannot use it.

    Only the encoder's first block can be that narrow (8·s at N=256); decoder and bottleneck
    blocks have at least 32 channels.
    """
    width = cfg.encoder_filters[1]
    if cfg.cbam_encoder and width // CBAM_REDUCTION == 0:
        raise ValueError(
            f"cbam_encoder on a block with {width} channels would have a 0-width hidden layer "
            f"(n_filters_scale={cfg.n_filters_scale} at N={cfg.N})"
        )


class ChannelGate(nn.Module):
    """CBAM channel gate: x · sigmoid(MLP(avgpool x) + MLP(maxpool x))."""

    def __init__(self, channels: int):
        super().__init__()
        hidden = channels // CBAM_REDUCTION
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        gate = self.mlp(F.avg_pool2d(x, size, stride=size)) + self.mlp(F.max_pool2d(x, size, stride=size))
        return x * torch.sigmoid(gate)[:, :, None, None]


class SpatialGate(nn.Module):
    """CBAM spatial gate: x · sigmoid(conv7x7([max_c x, mean_c x]))."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.compress = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat((x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)), dim=1)
        return x * torch.sigmoid(self.compress(pooled))


class Cbam(nn.Module):
    """Convolutional block attention: channel gate then spatial gate."""

    def __init__(self, channels: int):
        super().__init__()
        self.ChannelGate = ChannelGate(channels)
        self.SpatialGate = SpatialGate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class EcaWeights(nn.Module):
    """The weights of PtychoPINN's ECA layer; PtychoPINN's cnn never applies it (contract §1.8)."""

    def __init__(self, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)


class SpatialAttentionWeights(nn.Module):
    """The weights of PtychoPINN's decoder spatial attention; never applied by PtychoPINN."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.spatial_gate = SpatialGate(kernel_size)


class ConvPair(nn.Module):
    """conv3x3 → [BN] → ReLU → conv3x3 → [BN] → ReLU, PtychoPINN's ``ConvBaseBlock``."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if batch_norm:
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.bn2 = nn.BatchNorm2d(out_channels)
        self.batch_norm = batch_norm

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """The two convolutions with their (optional) batch norms and ReLUs."""
        x = self.conv1(x)
        if self.batch_norm:
            x = self.bn1(x)
        x = F.relu(x)
        x = self.conv2(x)
        if self.batch_norm:
            x = self.bn2(x)
        return F.relu(x)


class EncoderBlock(ConvPair):
    """Conv pair → [CBAM] → 2x2 max pool; an ECA's weights exist but are never applied."""

    def __init__(self, in_channels: int, out_channels: int, cfg: CnnConfig):
        super().__init__(in_channels, out_channels, cfg.batch_norm)
        self.use_cbam = cfg.cbam_encoder
        if cfg.cbam_encoder:
            self.attention = Cbam(out_channels)
        elif cfg.eca_encoder:
            self.attention = EcaWeights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convolve(x)
        if self.use_cbam:
            x = self.attention(x)
        return F.max_pool2d(x, 2)


class UpBlock(ConvPair):
    """Conv pair → nearest-neighbour upsampling x2, PtychoPINN's ``ConvUpBlock``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.convolve(x), scale_factor=2.0, mode="nearest")


class Encoder(nn.Module):
    """Conv-pool blocks from the input channels down to 128·s channels at 8x8."""

    def __init__(self, cfg: CnnConfig):
        super().__init__()
        f = cfg.encoder_filters
        self.blocks = nn.ModuleList(EncoderBlock(f[i], f[i + 1], cfg) for i in range(len(f) - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class Head(nn.Module):
    """PtychoPINN's ``Decoder_last``: centre branch padded to N×N plus the SiLU border branch.

    The centre branch applies ``activation`` and is non-zero only inside the central N/2 square;
    with ``probe_big`` the border branch fills everything outside that square.
    """

    def __init__(self, cfg: CnnConfig, activation, batch_norm: bool):
        super().__init__()
        width, out = 32 * cfg.n_filters_scale, cfg.channels
        self.conv1 = nn.Conv2d(width - out, out, 3, padding=1)
        self.conv_up_block = UpBlock(out, width, batch_norm)
        self.conv2 = nn.Conv2d(width, out, 3, padding=1)
        if batch_norm:
            self.bn1 = nn.BatchNorm2d(out)
            self.bn2 = nn.BatchNorm2d(out)
        self.batch_norm = batch_norm
        self.activation = activation
        self.out_channels = out
        self.probe_big = cfg.probe_big
        self.quarter = cfg.N // 4

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        q = self.quarter
        centre = self.conv1(h[:, : -self.out_channels])
        if self.batch_norm:
            centre = self.bn1(centre)
        centre = self.activation(centre)
        if not self.probe_big:
            return F.pad(centre, (q, q, q, q))
        border = self.conv2(self.conv_up_block(h[:, -self.out_channels :]))
        if self.batch_norm:
            border = self.bn2(border)
        out = F.silu(border)
        out[..., q:-q, q:-q] = centre
        return out


class DecoderTrunk(nn.Module):
    """Up blocks from the bottleneck to N/2, plus never-applied decoder attention weights."""

    def __init__(self, cfg: CnnConfig, batch_norm: bool):
        super().__init__()
        d = cfg.decoder_filters
        self.blocks = nn.ModuleList(UpBlock(d[j], d[j + 1], batch_norm) for j in range(len(d) - 1))
        attention = _decoder_attention_factory(cfg)
        if attention is not None:
            self.attention_blocks = nn.ModuleList(attention(d[j + 1]) for j in range(len(d) - 1))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Run the up blocks (PtychoPINN skips ``attention_blocks`` in its forward)."""
        for block in self.blocks:
            x = block(x)
        return x


def _decoder_attention_factory(cfg: CnnConfig):
    """PtychoPINN's decoder attention choice (ECA, else spatial, else CBAM), or None."""
    if cfg.eca_decoder:
        return lambda channels: EcaWeights()
    if cfg.spatial_decoder:
        return lambda channels: SpatialAttentionWeights(cfg.decoder_spatial_kernel)
    if cfg.cbam_decoder:
        return Cbam
    return None


def _silu_or_sigmoid(name: str):
    return torch.sigmoid if name == "sigmoid" else F.silu


def _pi_tanh(x: torch.Tensor) -> torch.Tensor:
    return math.pi * torch.tanh(x)


def _real_activation(x: torch.Tensor) -> torch.Tensor:
    return 0.2 + torch.tanh(x)


def _imag_activation(x: torch.Tensor) -> torch.Tensor:
    return 1.2 * torch.tanh(x)


class AmpDecoder(DecoderTrunk):
    """Amplitude (or real-part) decoder; never batch-normalized."""

    def __init__(self, cfg: CnnConfig):
        super().__init__(cfg, batch_norm=False)
        real_imag = cfg.cnn_output_mode == "real_imag"
        self.amp = Head(cfg, _real_activation if real_imag else _silu_or_sigmoid(cfg.amp_activation), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.amp(self.trunk(x))


class PhaseDecoder(DecoderTrunk):
    """Phase (or imaginary-part) decoder; batch-normalized when ``batch_norm``."""

    def __init__(self, cfg: CnnConfig):
        super().__init__(cfg, batch_norm=cfg.batch_norm)
        real_imag = cfg.cnn_output_mode == "real_imag"
        self.phase = Head(cfg, _imag_activation if real_imag else _pi_tanh, cfg.batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.phase(self.trunk(x))


class Autoencoder(nn.Module):
    """Encoder → [bottleneck CBAM] → separate amplitude and phase decoders."""

    def __init__(self, cfg: CnnConfig):
        super().__init__()
        self.encoder = Encoder(cfg)
        if cfg.cbam_bottleneck:
            self.bottleneck_cbam = Cbam(cfg.encoder_filters[-1])
        self.use_bottleneck_cbam = cfg.cbam_bottleneck
        self.decoder_amp = AmpDecoder(cfg)
        self.decoder_phase = PhaseDecoder(cfg)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.encoder(x)
        if self.use_bottleneck_cbam:
            x = self.bottleneck_cbam(x)
        return self.decoder_amp(x), self.decoder_phase(x)


class RectScaler(nn.Module):
    """Holder of the rectangular-forward scales s1, s2 (training only)."""

    def __init__(self, num_datasets: int):
        super().__init__()
        self.register_buffer("s1", torch.ones(num_datasets))
        self.register_buffer("s2", torch.ones(num_datasets))


class TrainingScalars(nn.Module):
    """PtychoPINN's ``forward_model`` tensors (alpha, beta, s1, s2): loaded, never used here."""

    def __init__(self, num_datasets: int):
        super().__init__()
        self.register_buffer("alpha", torch.ones(num_datasets))
        self.register_buffer("beta", torch.zeros(num_datasets))
        self.rect_scaler = RectScaler(num_datasets)


class PinnCore(nn.Module):
    """The ``model.`` level of PtychoPINN's Lightning module: autoencoder and forward-model scalars."""

    def __init__(self, cfg: CnnConfig):
        super().__init__()
        self.autoencoder = Autoencoder(cfg)
        self.forward_model = TrainingScalars(cfg.num_datasets)


class PtychoPinnCnn(nn.Module):
    """Inference-only PtychoPINN cnn: scaled diffraction (B, C, N, N) → complex64 patches.

    Always in eval mode (batch norm uses its running statistics) and without gradients. Inside,
    activations are channels-last, which runs the convolutions faster on CPU.
    """

    def __init__(self, cfg: CnnConfig):
        super().__init__()
        self.config = cfg
        self.model = PinnCore(cfg)
        if cfg.parity_scale_mode != "off":
            self.register_buffer("log_scale_delta", torch.zeros(()))
        else:
            self.register_buffer("log_scale_delta", None)
        self.real_imag = cfg.cnn_output_mode == "real_imag"

    def train(self, mode: bool = True) -> PtychoPinnCnn:
        """Stay in eval mode whatever is asked: this network only ever runs inference."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        if self.log_scale_delta is not None:
            x = x * torch.exp(-self.log_scale_delta)
        first, second = self.model.autoencoder(x)
        if self.real_imag:
            return torch.complex(first, second).contiguous()
        return torch.polar(first, second).contiguous()


def build_cnn(cfg: CnnConfig) -> PtychoPinnCnn:
    """Build the network for ``cfg`` on CPU, in eval mode, with gradients off."""
    net = PtychoPinnCnn(cfg).to(memory_format=torch.channels_last)
    net.requires_grad_(False)
    return net.eval()
