"""DiffStyler's mechanics on a tiny, randomly initialised Stable Diffusion saved as a diffusers folder.

The nets are about 2 MB in all, so every pass takes milliseconds on a CPU; the
pictures they make mean nothing, but LoRA training, inversion, injection and
mask-wise fusion run through the same code as with a real model.
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("peft")
pytest.importorskip("transformers")

from stylize.errors import InputError, OptionError, OutputError, StylizeError, WeightsError  # noqa: E402
from stylize.imageio import write_image  # noqa: E402
from stylize.offline.diffstyler import (  # noqa: E402
    DiffStylerSettings, StyleLora, ddim_invert, diffstyle, diffstyle_latent, load_pipeline, lora_loss,
    train_style_lora)
from stylize.offline.diffusion import require  # noqa: E402
from stylize.offline.diffusion.injection import FeatureInjector, self_attentions  # noqa: E402
from stylize.offline.diffusion.inversion import reconstruct  # noqa: E402
from stylize.offline.diffusion.parts import decode_latent  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32  # pixels; the VAE halves it, so latents are 16x16
FAST = DiffStylerSettings(steps=4, inversion_steps=8, size=SIZE, lora_rank=4, lora_steps=8, lr=3e-2,
                          guidance=3.0, feature_injection=0.5, attention_injection=0.5)


def _tokenizer_files(folder) -> None:
    """A CLIP BPE vocabulary of single printable characters (no merges): every prompt tokenizes."""
    folder.mkdir()
    chars = [chr(c) for c in range(33, 127)]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 16}))


def _save_tiny_stable_diffusion(root, picture: np.ndarray, output_gain: float) -> None:
    """Save a tiny random Stable Diffusion as a diffusers folder, with two changes that make it behave like a trained one.

    - The VAE's scaling factor makes `picture`'s latent unit RMS, as Stable
      Diffusion's 0.18215 does for its own VAE (a random VAE's raw latents are
      about 0.05 RMS, which would drown the content in the schedule's noise).
    - The UNet's output layer is scaled by `output_gain` (0.1 for the
      inversion tests): a random net's prediction swings with its input far
      more than a trained one's, and DDIM inversion is only accurate for a
      prediction that varies smoothly along the path. LoRA training keeps the
      full gain: through a damped output layer an adapter can hardly move the
      prediction.
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, norm_num_groups=8, attention_head_dim=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32)
    with torch.no_grad():
        unet.conv_out.weight.mul_(output_gain)
        unet.conv_out.bias.mul_(output_gain)
    unet.save_pretrained(root / "unet")
    vae = AutoencoderKL(block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    with torch.no_grad():
        raw = vae.encode(torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 127.5 - 1).latent_dist.mean
    vae.register_to_config(scaling_factor=float(1 / raw.pow(2).mean().sqrt()))
    vae.save_pretrained(root / "vae")
    CLIPTextModel(CLIPTextConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                                 vocab_size=190, max_position_embeddings=16, bos_token_id=188, eos_token_id=189,
                                 pad_token_id=189)).save_pretrained(root / "text_encoder")
    DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                  set_alpha_to_one=False, steps_offset=1).save_pretrained(root / "scheduler")
    _tokenizer_files(root / "tokenizer")
    (root / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))


@pytest.fixture(scope="module")
def content():
    """A picture with structure: a bright disc on a horizontal ramp, coloured per channel."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    disc = ((x - 20) ** 2 + (y - 12) ** 2 < 60).astype(np.float32)
    rgb = np.stack([x / SIZE, y / SIZE, 0.3 + 0.4 * disc], axis=2) * 255
    return rgb.clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def parts(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("tiny-sd")
    _save_tiny_stable_diffusion(root, content, output_gain=0.1)
    return load_pipeline(root, device="cpu")


@pytest.fixture(scope="module")
def full_gain_dir(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("tiny-sd-full-gain")
    _save_tiny_stable_diffusion(root, content, output_gain=1.0)
    return root


@pytest.fixture(scope="module")
def trainable_parts(full_gain_dir):
    return load_pipeline(full_gain_dir, device="cpu")


def _random_lora(parts, seed: int, prompt: str) -> StyleLora:
    """A LoRA of the right shapes with random weights in both factors, so it changes the UNet's output."""
    zero = train_style_lora(parts, [np.zeros((SIZE, SIZE, 3), np.uint8)],
                            DiffStylerSettings(size=SIZE, lora_rank=4, lora_steps=0), progress=False)
    generator = torch.Generator().manual_seed(seed)
    state = {k: 0.3 * torch.randn(v.shape, generator=generator) for k, v in zero.state.items()}
    return StyleLora(f"random{seed}", prompt, 4, state)


def _left_right_masks():
    left = np.zeros((SIZE, SIZE), np.float32)
    left[:, : SIZE // 2] = 1
    return left, 1 - left


def test_settings_refuse_values_out_of_bounds():
    for bad in ({"guidance": float("nan")}, {"steps": 0}, {"lr": float("inf")}, {"feature_injection": 1.5},
                {"steps": 2.5}, {"size": 10**6}, {"lora_rank": True}, {"style_prompt": 3}):
        with pytest.raises(OptionError):
            DiffStylerSettings(**bad)
    assert DiffStylerSettings.from_dict(FAST.to_dict()) == FAST
    with pytest.raises(OptionError, match="unknown"):
        DiffStylerSettings.from_dict({"stepz": 3})


def test_a_folder_that_is_not_stable_diffusion_is_one_line_error(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(WeightsError, match="not a diffusers-format Stable Diffusion folder") as error:
        load_pipeline(tmp_path, device="cpu")
    assert "\n" not in str(error.value) and "model_index.json" in str(error.value)


def test_without_the_packages_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # a None entry makes `import peft` fail
    with pytest.raises(StylizeError, match=r'pip install "stylize\[diffusion\]"'):
        require("diffusers", "peft")


def test_lora_training_lowers_its_loss_and_leaves_the_unet_bare(trainable_parts, content):
    """Measured on noise and timesteps the training never drew (measured: 5 % lower after 8 steps)."""
    style = np.flipud(content).copy()
    unseen = {"samples": 8, "seed": 99}
    before = lora_loss(trainable_parts, None, [style], FAST, **unseen)
    lora = train_style_lora(trainable_parts, [style], FAST, progress=False)
    assert len(lora.losses) == FAST.lora_steps
    # the probe with the training's seed replays the training's first draw
    assert lora.losses[0] == pytest.approx(lora_loss(trainable_parts, None, [style], FAST, samples=1, seed=FAST.seed))
    assert lora_loss(trainable_parts, lora, [style], FAST, **unseen) < 0.97 * before
    assert not getattr(trainable_parts.unet, "peft_config", None)  # the training adapter is removed again


def test_a_half_precision_model_trains_and_paints(full_gain_dir, content):
    """The mixed-precision path CUDA takes (half UNet, float32 LoRA weights, float32 VAE), here in bfloat16."""
    half = load_pipeline(full_gain_dir, device="cpu", dtype="bfloat16")
    assert next(half.unet.parameters()).dtype == torch.bfloat16 and next(half.vae.parameters()).dtype == torch.float32
    short = replace(FAST, lora_steps=2, steps=2, inversion_steps=2)
    lora = train_style_lora(half, [content], short, progress=False)
    assert all(v.dtype == torch.float32 for v in lora.state.values()) and all(np.isfinite(lora.losses))
    left, right = _left_right_masks()
    picture = diffstyle(half, content, [lora, lora], [left, right], short, progress=False)
    assert picture.shape == content.shape and picture.dtype == np.uint8


def test_a_lora_saves_and_loads(parts, tmp_path):
    lora = _random_lora(parts, 1, "a sketch")
    path = tmp_path / "style.safetensors"
    lora.save(path)
    loaded = StyleLora.load(path)
    assert (loaded.name, loaded.prompt, loaded.rank) == (lora.name, lora.prompt, lora.rank)
    assert all(torch.equal(loaded.state[k], v) for k, v in lora.state.items())
    with pytest.raises(OutputError):
        lora.save(path)
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(WeightsError):
        StyleLora.load(tmp_path / "junk.safetensors")


def test_inversion_then_reconstruction_returns_the_content(parts, content):
    """DDIM inversion is exact only in the limit of small steps, so the round trip has a tolerance.

    At 32 inversion and sampling steps the tiny model's round trip misses the
    content's latent by about 4.5 % of its RMS and the VAE's pictures of the two
    by about 2 grey levels on average (measured); 8 steps miss by about twice as
    much. The bounds leave a third of headroom over those measurements.
    """
    errors = {}
    for steps in (8, 32):
        settings = DiffStylerSettings(steps=steps, inversion_steps=steps, size=SIZE)
        trajectory = ddim_invert(parts, content, settings)
        back = reconstruct(parts, trajectory)
        clean = trajectory.clean
        errors[steps] = float((back - clean).pow(2).mean().sqrt() / clean.pow(2).mean().sqrt())
    assert errors[32] < 0.06
    assert errors[32] < 0.7 * errors[8]
    pixels = np.abs(decode_latent(parts, back).astype(int) - decode_latent(parts, clean).astype(int))
    assert pixels.mean() < 3


def test_regions_outside_every_mask_keep_the_source(parts, content):
    left, _ = _left_right_masks()
    lora = _random_lora(parts, 2, "a sketch")
    trajectory = ddim_invert(parts, content, FAST)
    latent = diffstyle_latent(parts, trajectory, [lora], [left], FAST)
    half = latent.shape[-1] // 2
    assert torch.equal(latent[..., half:], trajectory.clean[..., half:])  # the inversion's own latent
    assert not torch.allclose(latent[..., :half], trajectory.clean[..., :half], atol=0.05)

    kept = diffstyle(parts, content, [lora], [left], FAST, progress=False, trajectory=trajectory)
    assert np.array_equal(kept[:, SIZE // 2:], content[:, SIZE // 2:])
    assert np.abs(kept[:, : SIZE // 2].astype(int) - content[:, : SIZE // 2]).mean() > 2

    plain = diffstyle(parts, content, [lora], [left], replace(FAST, keep_source_pixels=False),
                      progress=False, trajectory=trajectory)
    assert np.array_equal(plain, decode_latent(parts, latent))  # the VAE's picture of the fused latent


def test_two_masks_use_two_loras(parts, content):
    """In a one-step run each region's latent comes from its own LoRA alone: perturbing one moves only its region."""
    one_step = replace(FAST, steps=1, inversion_steps=4)
    left, right = _left_right_masks()
    loras = [_random_lora(parts, 3, "a sketch"), _random_lora(parts, 4, "a mosaic")]
    trajectory = ddim_invert(parts, content, one_step)
    base = diffstyle_latent(parts, trajectory, loras, [left, right], one_step)
    half = base.shape[-1] // 2
    for moved in (0, 1):
        perturbed = list(loras)
        state = {k: v * 1.5 for k, v in loras[moved].state.items()}
        perturbed[moved] = StyleLora(loras[moved].name, loras[moved].prompt, 4, state)
        out = diffstyle_latent(parts, trajectory, perturbed, [left, right], one_step)
        own, other = (slice(None, half), slice(half, None))[::1 if moved == 0 else -1]
        assert torch.equal(out[..., other], base[..., other])
        assert not torch.allclose(out[..., own], base[..., own], atol=1e-3)


def test_injection_carries_the_source_pass_into_the_styled_pass(parts):
    generator = torch.Generator().manual_seed(5)
    source, styled = (torch.randn((n, 4, 16, 16), generator=generator) for n in (1, 2))
    embeds = torch.zeros((2, 16, 32))
    layers = self_attentions(parts.unet)
    seen = []
    with FeatureInjector(parts.unet) as injector:
        capture = layers[0].to_q.register_forward_hook(lambda m, i, o: seen.append(o.clone()))
        injector.record()
        parts.unet(source, 500, encoder_hidden_states=embeds[:1])
        injector.inject(features=True, attention=True)
        parts.unet(styled, 500, encoder_hidden_states=embeds)
        assert injector.injected == 1 + 2 * len(layers)
        injector.inject(features=False, attention=False)
        parts.unet(styled, 500, encoder_hidden_states=embeds)
        capture.remove()
    recorded, injected, own = seen
    assert torch.equal(injected, recorded.expand_as(injected))
    assert not torch.allclose(own, recorded.expand_as(own))


def test_injection_steers_the_result(parts, content):
    lora = _random_lora(parts, 6, "a sketch")
    trajectory = ddim_invert(parts, content, FAST)
    results = [diffstyle_latent(parts, trajectory, [lora], [np.ones((SIZE, SIZE))],
                                replace(FAST, feature_injection=share, attention_injection=share))
               for share in (0.0, 1.0)]
    assert not torch.allclose(*results, atol=1e-3)


def test_a_mask_can_be_a_png(parts, content, tmp_path):
    left, _ = _left_right_masks()
    write_image(tmp_path / "left.png", np.repeat((left * 255).astype(np.uint8)[..., None], 3, axis=2))
    lora = _random_lora(parts, 9, "a sketch")
    trajectory = ddim_invert(parts, content, FAST)
    from_file = diffstyle(parts, content, [lora], [tmp_path / "left.png"], FAST, progress=False, trajectory=trajectory)
    from_array = diffstyle(parts, content, [lora], [left], FAST, progress=False, trajectory=trajectory)
    assert np.array_equal(from_file, from_array)


def test_masks_must_match_the_styles(parts, content):
    loras = [_random_lora(parts, 7, "a"), _random_lora(parts, 8, "b")]
    with pytest.raises(InputError, match="one mask per style"):
        diffstyle(parts, content, loras, [np.ones((SIZE, SIZE))], FAST, progress=False)
    with pytest.raises(InputError, match="need one mask each"):
        diffstyle(parts, content, loras, None, FAST, progress=False)


def test_person_masks_split_a_portrait_into_person_and_background(shared):
    """With the person-segmentation net (realtime/segmentation.py, its weights in ../shared)."""
    pytest.importorskip("stylize.realtime.segmentation")
    from stylize.imageio import read_image
    from stylize.offline.diffstyler import person_masks
    portrait = read_image(shared / "data/eval/content/terryky_gl2selfie2anime__assets__pakutaso3.jpg")
    person, background = person_masks(portrait)
    assert person.shape == background.shape == portrait.shape[:2]
    assert np.allclose(person + background, 1)
    assert 0.1 < person.mean() < 0.9  # both styles get a part of the picture (measured: 30 % person)
