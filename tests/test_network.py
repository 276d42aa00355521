"""The rebuilt PtychoPINN cnn: tensor names/shapes/counts, forward semantics, variants, refusals."""

from __future__ import annotations

import io
import math
import zipfile

import pytest
import torch

from ptycho_gui.models.cnn import CnnConfig, build_cnn

torch.set_num_threads(1)


def _counts(cfg: CnnConfig) -> tuple[int, int]:
    state = build_cnn(cfg).state_dict()
    return len(state), sum(t.numel() for t in state.values())


def _randomized(cfg: CnnConfig, seed: int = 0):
    """A network whose every tensor is random (biases too), so no branch is trivially zero."""
    net = build_cnn(cfg)
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in net.state_dict().items():
        if value.is_floating_point():
            fan_in = math.prod(value.shape[1:]) if value.ndim > 1 else 4
            state[key] = torch.randn(value.shape, generator=gen) / math.sqrt(fan_in)
            if key.endswith("running_var"):
                state[key] = state[key].abs() + 0.5
        else:
            state[key] = value
    net.load_state_dict(state, strict=True)
    return net


def _input(cfg: CnnConfig, batch: int = 2, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((batch, cfg.channels, cfg.N, cfg.N), generator=gen) * 2.0


@pytest.mark.parametrize(
    "cfg, tensors, numbers",
    [
        (CnnConfig(N=64, C=4, n_filters_scale=2, cbam_encoder=True), 63, 2_351_734),
        (CnnConfig(N=64, C=1), 63, 2_339_896),
        (CnnConfig(N=128, C=1), 80, 4_727_900),
        (CnnConfig(N=256, C=1), 97, 12_994_431),
    ],
    ids=["N64-gs2", "N64-gs1", "N128-gs1", "N256-gs1"],
)
def test_tensor_counts_match_contract(cfg, tensors, numbers):
    assert _counts(cfg) == (tensors, numbers)


def test_cbam_off_has_48_tensors_and_no_attention_keys():
    state = build_cnn(CnnConfig(N=64, C=1, cbam_encoder=False)).state_dict()
    assert len(state) == 48
    assert not any(".attention." in key for key in state)


def test_object_big_gives_same_tensors_at_gridsize_1():
    big = build_cnn(CnnConfig(N=64, C=1, object_big=True)).state_dict()
    small = build_cnn(CnnConfig(N=64, C=1, object_big=False)).state_dict()
    assert {k: v.shape for k, v in big.items()} == {k: v.shape for k, v in small.items()}


def test_keys_and_shapes_equal_the_real_bundle_state_dict(shared_bundle_path):
    with zipfile.ZipFile(shared_bundle_path) as archive:
        real = torch.load(io.BytesIO(archive.read("diffraction_to_obj/model.pth")), weights_only=True)
    net = build_cnn(CnnConfig(N=64, C=4, n_filters_scale=2, amp_activation="swish"))
    ours = net.state_dict()
    assert list(ours) == list(real)
    assert all(ours[k].shape == real[k].shape for k in real)
    assert all(k.startswith("model.") for k in ours)
    net.load_state_dict(real, strict=True)


def test_training_scalars_have_num_datasets_length():
    state = build_cnn(CnnConfig(N=64, C=1, num_datasets=3)).state_dict()
    for key in ("alpha", "beta", "rect_scaler.s1", "rect_scaler.s2"):
        assert state[f"model.forward_model.{key}"].shape == (3,)


@pytest.mark.parametrize("C", [1, 4])
@pytest.mark.parametrize("mode", ["amp_phase", "real_imag"])
def test_output_is_complex64_b_c_n_n(C, mode):
    cfg = CnnConfig(N=64, C=C, cnn_output_mode=mode)
    with torch.inference_mode():
        out = _randomized(cfg)(_input(cfg, batch=3))
    assert out.dtype == torch.complex64
    assert out.shape == (3, C, 64, 64)
    assert out.is_contiguous()
    assert bool(torch.isfinite(out).all())


def test_probe_big_false_is_exactly_zero_outside_central_square():
    cfg = CnnConfig(N=64, C=4, probe_big=False)
    with torch.inference_mode():
        out = _randomized(cfg)(_input(cfg))
    q = cfg.N // 4
    inside = torch.zeros(cfg.N, cfg.N, dtype=torch.bool)
    inside[q:-q, q:-q] = True
    assert torch.count_nonzero(out[..., ~inside]) == 0
    assert torch.count_nonzero(out[..., inside]) > 0.9 * out[..., inside].numel()


def test_probe_big_true_fills_the_border():
    cfg = CnnConfig(N=64, C=1, probe_big=True)
    with torch.inference_mode():
        out = _randomized(cfg)(_input(cfg))
    q = cfg.N // 4
    border = out.clone()
    border[..., q:-q, q:-q] = 0
    assert torch.count_nonzero(border) > 0.9 * (cfg.N**2 - (cfg.N // 2) ** 2) * out.shape[0]


def test_sigmoid_amplitude_is_in_unit_interval_and_phase_in_pi_inside_centre():
    cfg = CnnConfig(N=64, C=1, amp_activation="sigmoid", probe_big=False)
    with torch.inference_mode():
        centre = _randomized(cfg)(_input(cfg))[..., 16:48, 16:48]
    assert float(centre.abs().min()) > 0 and float(centre.abs().max()) < 1
    assert float(centre.angle().abs().max()) <= math.pi


def test_every_activation_name_but_sigmoid_runs_as_silu():
    """Contract P6: 'swish', 'relu', 'softplus' all run as SiLU; only 'sigmoid' differs."""
    base = _randomized(CnnConfig(N=64, C=1, amp_activation="silu"))
    x = _input(base.config)
    with torch.inference_mode():
        reference = base(x)
        for name in ("swish", "relu", "softplus"):
            other = build_cnn(CnnConfig(N=64, C=1, amp_activation=name))
            other.load_state_dict(base.state_dict())
            assert torch.equal(other(x), reference)
        sigmoid = build_cnn(CnnConfig(N=64, C=1, amp_activation="sigmoid"))
        sigmoid.load_state_dict(base.state_dict())
        assert not torch.equal(sigmoid(x), reference)


def test_real_imag_heads_are_boxed_inside_centre():
    cfg = CnnConfig(N=64, C=1, cnn_output_mode="real_imag", probe_big=False)
    with torch.inference_mode():
        centre = _randomized(cfg)(_input(cfg))[..., 16:48, 16:48]
    assert -0.8 < float(centre.real.min()) and float(centre.real.max()) < 1.2
    assert float(centre.imag.abs().max()) < 1.2


def test_batch_norm_keys_only_where_ptychopinn_has_them():
    state = build_cnn(CnnConfig(N=64, C=1, batch_norm=True)).state_dict()
    bn_keys = [k for k in state if ".bn1." in k or ".bn2." in k]
    assert not any(".decoder_amp." in k for k in bn_keys)
    prefixes = {k.split(".bn")[0] for k in bn_keys}
    assert prefixes == {
        "model.autoencoder.encoder.blocks.0", "model.autoencoder.encoder.blocks.1",
        "model.autoencoder.encoder.blocks.2", "model.autoencoder.decoder_phase.blocks.0",
        "model.autoencoder.decoder_phase.blocks.1", "model.autoencoder.decoder_phase.phase",
        "model.autoencoder.decoder_phase.phase.conv_up_block",
    }
    assert "model.autoencoder.encoder.blocks.0.bn1.num_batches_tracked" in state
    assert state["model.autoencoder.decoder_phase.phase.bn1.weight"].shape == (1,)


def test_batch_norm_network_always_uses_running_statistics():
    cfg = CnnConfig(N=64, C=1, batch_norm=True)
    net = _randomized(cfg)
    net.train()
    assert not net.training
    x = _input(cfg, batch=3)
    with torch.inference_mode():
        assert torch.allclose(net(x)[:1], net(x[:1]), atol=1e-6)


def test_eca_encoder_weights_exist_but_are_never_applied():
    plain = _randomized(CnnConfig(N=64, C=1, cbam_encoder=False))
    eca = build_cnn(CnnConfig(N=64, C=1, cbam_encoder=False, eca_encoder=True))
    state = eca.state_dict()
    assert state["model.autoencoder.encoder.blocks.0.attention.conv.weight"].shape == (1, 1, 3)
    extra = {k: torch.randn(v.shape) for k, v in state.items() if ".attention." in k}
    eca.load_state_dict({**plain.state_dict(), **extra})
    x = _input(plain.config)
    with torch.inference_mode():
        assert torch.equal(eca(x), plain(x))


@pytest.mark.parametrize(
    "flag, key, shape",
    [
        ("eca_decoder", "attention_blocks.0.conv.weight", (1, 1, 3)),
        ("spatial_decoder", "attention_blocks.0.spatial_gate.compress.weight", (1, 2, 7, 7)),
        ("cbam_decoder", "attention_blocks.0.ChannelGate.mlp.1.weight", (8, 128)),
    ],
)
def test_decoder_attention_weights_exist_but_are_never_applied(flag, key, shape):
    plain = _randomized(CnnConfig(N=64, C=1))
    variant = build_cnn(CnnConfig(N=64, C=1, **{flag: True}))
    state = variant.state_dict()
    for decoder in ("decoder_amp", "decoder_phase"):
        assert state[f"model.autoencoder.{decoder}.{key}"].shape == shape
    extra = {k: torch.randn(v.shape) for k, v in state.items() if ".attention_blocks." in k}
    variant.load_state_dict({**plain.state_dict(), **extra})
    x = _input(plain.config)
    with torch.inference_mode():
        assert torch.equal(variant(x), plain(x))


def test_cbam_bottleneck_is_applied():
    cfg = CnnConfig(N=64, C=1, cbam_bottleneck=True)
    net = _randomized(cfg)
    state = net.state_dict()
    assert state["model.autoencoder.bottleneck_cbam.ChannelGate.mlp.1.weight"].shape == (16, 256)
    plain = build_cnn(CnnConfig(N=64, C=1))
    plain.load_state_dict({k: v for k, v in state.items() if "bottleneck_cbam" not in k})
    x = _input(cfg)
    with torch.inference_mode():
        assert not torch.equal(net(x), plain(x))


def test_parity_scale_divides_input_by_exp_log_scale_delta():
    cfg = CnnConfig(N=64, C=1, parity_scale_mode="tied")
    net = _randomized(cfg)
    state = net.state_dict()
    assert state["log_scale_delta"].shape == ()
    delta = 0.7
    net.load_state_dict({**state, "log_scale_delta": torch.tensor(delta)})
    plain = build_cnn(CnnConfig(N=64, C=1))
    plain.load_state_dict({k: v for k, v in state.items() if k != "log_scale_delta"})
    x = _input(cfg)
    with torch.inference_mode():
        assert torch.allclose(net(x), plain(x * math.exp(-delta)), atol=1e-6)
    assert "log_scale_delta" not in plain.state_dict()


def test_network_has_no_gradients():
    net = build_cnn(CnnConfig(N=64, C=1))
    assert not any(p.requires_grad for p in net.parameters())
    assert not net(_input(net.config)).requires_grad


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"N": 100}, "N=100"),
        ({"N": 64, "C": 4, "object_big": False}, "object_big=False"),
        ({"N": 64, "C": 3}, "gridsize"),
        ({"N": 64, "use_shared_decoder": True}, "use_shared_decoder"),
        ({"N": 64, "use_legacy_decoder_channel_override": True}, "use_legacy_decoder_channel_override"),
        ({"N": 256, "n_filters_scale": 1}, "0-width hidden layer"),
        ({"N": 64, "cnn_output_mode": "amp_phase_logits"}, "cnn_output_mode"),
        ({"N": 64, "parity_scale_mode": "output"}, "parity_scale_mode"),
        ({"N": 64, "n_filters_scale": 0}, "n_filters_scale"),
        ({"N": 64, "batch_norm": "yes"}, "batch_norm"),
        ({"N": 64, "C": 36, "n_filters_scale": 1}, "head"),
    ],
)
def test_unsupported_configurations_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CnnConfig(**kwargs)


def test_cbam_off_allows_n256_with_scale_1():
    assert _counts(CnnConfig(N=256, C=1, n_filters_scale=1, cbam_encoder=False))[0] > 0
