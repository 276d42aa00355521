"""Input normalization: the bridge and mmap conventions, explicit scales, and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptycho_gui.engine.grouping import group_neighbors
from ptycho_gui.engine.normalization import input_scale, pattern_energies, resolve_input_scale


@pytest.fixture(scope="module")
def groups(dataset_path) -> np.ndarray:
    """Gridsize-2 groups of every position of the generated scan (100 groups, members repeat across groups)."""
    with np.load(dataset_path, allow_pickle=False) as data:
        return group_neighbors(data["xcoords"], data["ycoords"], 4, None, 6, 0)


@pytest.fixture(scope="module")
def grouped_energies(dataset_path, groups):
    """Σ_HW X² of every (group, channel) pattern fed to the network (400 entries, repeats kept)."""
    with np.load(dataset_path, allow_pickle=False) as data:
        diffraction = data["diff3d"]
    return pattern_energies(diffraction[groups]), diffraction


def test_pattern_energies_sum_squares_in_float64(grouped_energies, groups):
    energies, diffraction = grouped_energies
    stack = diffraction[groups].astype(np.float64)
    assert energies.shape == (400,) and energies.dtype == np.float64
    np.testing.assert_allclose(energies, (stack**2).sum(axis=(2, 3)).ravel(), rtol=1e-12)


def test_bridge_scale_brings_fed_patterns_to_mean_energy_n_half_squared(grouped_energies, groups):
    energies, diffraction = grouped_energies
    scale = input_scale(energies, 64, "bridge")
    assert scale == pytest.approx(math.sqrt(32.0**2 / energies.mean()), rel=1e-15)
    fed = diffraction[groups].astype(np.float64) * scale
    assert (fed**2).sum(axis=(2, 3)).mean() == pytest.approx(1024.0, rel=1e-12)


def test_mmap_scale_is_twice_bridge(grouped_energies):
    energies, _ = grouped_energies
    assert input_scale(energies, 64, "mmap") == pytest.approx(2 * input_scale(energies, 64, "bridge"), rel=1e-14)
    assert input_scale(energies, 64, "mmap") == pytest.approx(math.sqrt(64.0**2 / energies.mean()), rel=1e-15)


def test_scale_depends_on_the_pattern_subset(grouped_energies):
    """Pitfall P2: the mean is over exactly the patterns fed, repeats included, not over the file."""
    energies, diffraction = grouped_energies
    whole_file = input_scale(pattern_energies(diffraction), 64, "bridge")
    assert input_scale(energies, 64, "bridge") != pytest.approx(whole_file, rel=1e-9)


def test_auto_follows_the_checkpoint_convention(grouped_energies):
    energies, _ = grouped_energies
    for convention in ("bridge", "mmap"):
        value, text = resolve_input_scale("auto", convention, energies, 64)
        assert value == input_scale(energies, 64, convention)
        assert convention in text and "400 patterns" in text and "checkpoint" in text


def test_named_convention_overrides_the_checkpoint(grouped_energies):
    energies, _ = grouped_energies
    value, text = resolve_input_scale("mmap", "bridge", energies, 64)
    assert value == input_scale(energies, 64, "mmap")
    assert "N² = 4096" in text


def test_explicit_number_is_used_as_is_without_energies():
    value, text = resolve_input_scale(" 1.25 ", "bridge", None, 64)
    assert value == 1.25 and "1.25" in text


@pytest.mark.parametrize("spec", ["", "brige", "-2", "0", "nan", "inf"])
def test_invalid_spec_is_refused_with_a_clear_message(spec):
    with pytest.raises(ValueError, match="normalization|input scale"):
        resolve_input_scale(spec, "bridge", np.ones(4), 64)


def test_unknown_checkpoint_convention_is_refused():
    with pytest.raises(ValueError, match="convention"):
        resolve_input_scale("auto", "tf", np.ones(4), 64)


@pytest.mark.parametrize(
    ("energies", "message"),
    [
        (np.zeros(5), "all zero"),
        (np.array([1.0, np.nan]), "NaN"),
        (np.array([1.0, np.inf]), "NaN"),
        (np.zeros(0), "no patterns"),
    ],
)
def test_degenerate_energies_are_refused(energies, message):
    with pytest.raises(ValueError, match=message):
        input_scale(energies, 64, "bridge")
    with pytest.raises(ValueError, match=message):
        resolve_input_scale("auto", "bridge", energies, 64)
