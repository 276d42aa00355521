"""PtychoPINN's amplitude forward model and the physics-informed loss used to train the demo network.

Forward model (contract §2.5 steps 3–4): exit wave ``P·O`` → 2-D FFT → ``A = sqrt(fftshift(|F|²/(N·N)))``.
The training loss is a Poisson negative log-likelihood of the measured counts given the predicted
intensity, both expressed in photons (contract §2.3, last paragraph).
"""

from __future__ import annotations

import math

import numpy as np
import torch

POISSON_EPS = 1e-8
"""Added to the predicted intensity inside the logarithm (as torch's ``PoissonNLLLoss`` does)."""


def far_field_amplitude(patches: torch.Tensor, probe: torch.Tensor) -> torch.Tensor:
    """Diffraction amplitude ``sqrt(fftshift(|fft2(P·O)|²/(N·N)))`` of object patches ``(..., N, N)``.

    ``probe`` broadcasts against ``patches``; the result is real with the patches' shape.
    """
    n_pixels = patches.shape[-2] * patches.shape[-1]
    field = torch.fft.fft2(patches * probe)
    amplitude = field.abs() / math.sqrt(n_pixels)
    return torch.fft.fftshift(amplitude, dim=(-2, -1))


def expected_intensity(patches: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Noise-free photon counts ``fftshift(|fft2(P·O)|²)/(N·N)`` (numpy, float64) for simulation."""
    n_pixels = patches.shape[-2] * patches.shape[-1]
    field = np.fft.fft2(np.asarray(patches, dtype=np.complex128) * probe, axes=(-2, -1))
    return np.fft.fftshift(np.abs(field) ** 2 / n_pixels, axes=(-2, -1))


def bridge_input_scale(diffraction: np.ndarray) -> float:
    """PtychoPINN's bridge normalization ``sqrt((N/2)² / mean Σ_HW X²)`` (float64 accumulation)."""
    amplitudes = np.asarray(diffraction, dtype=np.float64)
    half = amplitudes.shape[-1] / 2.0
    energy = np.mean(np.sum(amplitudes**2, axis=(-2, -1)))
    return float(np.sqrt(half**2 / energy))


def poisson_nll(predicted: torch.Tensor, measured: torch.Tensor, photon_scale: float) -> torch.Tensor:
    """Mean per-pattern Poisson NLL of counts ``(measured·s)²`` given the rate ``(predicted·s)²``.

    ``predicted`` and ``measured`` are amplitudes in the network's normalized units and ``s`` converts
    them to sqrt-photons, so the loss is the likelihood of the actual detector counts (the constant
    ``log k!`` term dropped); it is summed over pixels and averaged over patterns.
    """
    rate = (predicted * photon_scale).square()
    counts = (measured * photon_scale).square()
    per_pixel = rate - counts * torch.log(rate + POISSON_EPS)
    return per_pixel.flatten(start_dim=1).sum(dim=1).mean()
