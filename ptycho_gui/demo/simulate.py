"""Simulate the demo scan: a known complex object, a defocused focused-beam probe, a jittered raster
scan and Poisson-noisy diffraction amplitudes, written as a PtychoPINN-convention NPZ dataset.

Conventions (contract §3): x indexes columns and y rows of ``objectGuess``; the patch seen at
``(x, y)`` has its pixel ``(N//2, N//2)`` on object point ``(row=y, col=x)``; ``diff3d`` holds
``sqrt(Poisson(fftshift(|fft2(P·O_patch)|²)/N²))`` in sqrt-photons, the probe being scaled so that a
pattern holds ``dose`` photons on average.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from ptycho_gui.demo.physics import expected_intensity

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ScanSpec:
    """Everything that defines the simulated scan (the seed draws the jitter and the photon noise)."""

    n: int = 64
    object_size: int = 192
    grid: int = 18
    step: float = 7.0
    jitter: float = 1.0
    dose: float = 1e6
    """Mean photons per diffraction pattern (expected total counts)."""
    pupil_radius: float = 16.0
    """Radius (detector pixels) of the focusing optic's disk aperture in the far field."""
    defocus: float = 12.0
    """Defocus phase at the aperture edge (radians): spreads the focus into a ~30 px probe."""
    pupil_edge: float = 1.0
    """Width (detector pixels) of the aperture's soft edge: wider edges give a more compact probe."""
    amplitude_min: float = 0.3


@dataclass
class SimulatedScan:
    """A simulated scan with its ground truth, in the arrays PtychoPINN's NPZ format stores."""

    spec: ScanSpec
    seed: int
    object: np.ndarray
    """(H, W) complex64 true object."""
    probe: np.ndarray
    """(N, N) complex64 probe in sqrt-photon units."""
    xcoords: np.ndarray
    ycoords: np.ndarray
    diffraction: np.ndarray
    """(M, N, N) float32 measured amplitudes (sqrt of Poisson counts)."""

    def metadata(self) -> dict:
        """Plain-data description of how the scan was made (stored as ``metadata_json``)."""
        return {
            "generator": "ptycho_gui.demo",
            "seed": self.seed,
            "photons_per_pattern": self.spec.dose,
            "measurement": "diff3d = sqrt(Poisson(fftshift(|fft2(probeGuess*O_patch)|^2)/N^2))",
            "probe": "defocused disk-aperture focus, probeGuess in sqrt-photon units",
            "scan": "jittered raster",
            "spec": asdict(self.spec),
        }


def _soft_mask(distance: np.ndarray) -> np.ndarray:
    """Antialiased inside-indicator from a signed distance (negative inside), one-pixel ramp."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _segment_distance(rows: np.ndarray, cols: np.ndarray, start: tuple[float, float],
                      end: tuple[float, float]) -> np.ndarray:
    """Euclidean distance of every pixel to the segment ``start``–``end`` (row, col)."""
    (r0, c0), (r1, c1) = start, end
    dr, dc = r1 - r0, c1 - c0
    t = np.clip(((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc), 0.0, 1.0)
    return np.hypot(rows - (r0 + t * dr), cols - (c0 + t * dc))


def _strokes(rows: np.ndarray, cols: np.ndarray, segments: list, width: float) -> np.ndarray:
    """Union of antialiased line strokes of the given width."""
    mask = np.zeros_like(rows)
    for start, end in segments:
        mask = np.maximum(mask, _soft_mask(_segment_distance(rows, cols, start, end) - width / 2))
    return mask


def _gaussian(rows: np.ndarray, cols: np.ndarray, centre: tuple[float, float], sigma: float) -> np.ndarray:
    return np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma**2))


def _letter_strokes(s: float) -> list:
    """Strokes of a letter-like "P" and "T" (row, col) for an object of side ``s``."""
    return [
        ((s * 0.56, s * 0.54), (s * 0.80, s * 0.54)), ((s * 0.56, s * 0.54), (s * 0.56, s * 0.62)),
        ((s * 0.56, s * 0.62), (s * 0.63, s * 0.67)), ((s * 0.63, s * 0.67), (s * 0.70, s * 0.62)),
        ((s * 0.70, s * 0.62), (s * 0.70, s * 0.54)),
        ((s * 0.56, s * 0.71), (s * 0.56, s * 0.83)), ((s * 0.56, s * 0.77), (s * 0.80, s * 0.77)),
    ]


def _absorption(rows: np.ndarray, cols: np.ndarray, s: float) -> np.ndarray:
    """Amplitude structure in [0, 1]: bold bars, a ring, a letter-like "P" and "T", a smooth blob."""
    bars = [((s * 0.22, s * (0.25 + 0.085 * k)), (s * 0.44, s * (0.25 + 0.085 * k))) for k in range(3)]
    ring = _soft_mask(np.abs(np.hypot(rows - s * 0.68, cols - s * 0.30) - s * 0.10) - s * 0.02)
    letters = _letter_strokes(s)
    blob = 0.6 * _gaussian(rows, cols, (s * 0.30, s * 0.70), s * 0.075)
    shapes = np.maximum(_strokes(rows, cols, bars, s * 0.04), _strokes(rows, cols, letters, s * 0.04))
    return np.clip(np.maximum(shapes, ring) + blob, 0.0, 1.0)


def _phase(rows: np.ndarray, cols: np.ndarray, s: float) -> np.ndarray:
    """Phase structure in about ±1 rad: the absorbing shapes also delay the wave (+0.5 rad, as a material of
    uniform composition does), a phase-only disk and a phase-only diagonal bar, on two gentle smooth bumps."""
    bars = [((s * 0.22, s * (0.25 + 0.085 * k)), (s * 0.44, s * (0.25 + 0.085 * k))) for k in range(3)]
    phase = 0.3 * _gaussian(rows, cols, (s * 0.35, s * 0.40), s * 0.10)
    phase -= 0.3 * _gaussian(rows, cols, (s * 0.65, s * 0.65), s * 0.12)
    phase += 0.5 * _strokes(rows, cols, bars + _letter_strokes(s), s * 0.04)
    phase += 0.7 * _soft_mask(np.hypot(rows - s * 0.68, cols - s * 0.30) - s * 0.06)
    phase -= 0.6 * _strokes(rows, cols, [((s * 0.25, s * 0.55), (s * 0.42, s * 0.78))], s * 0.04)
    return np.clip(phase, -1.0, 1.0)


def make_object(size: int, amplitude_min: float = 0.3) -> np.ndarray:
    """The demo's true object (seed-independent): amplitude in [amplitude_min, 1], phase in ±1 rad."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    amplitude = 1.0 - (1.0 - amplitude_min) * _absorption(rows, cols, float(size))
    phase = _phase(rows, cols, float(size))
    amplitude = gaussian_filter(amplitude, 1.0, mode="nearest")
    phase = gaussian_filter(phase, 1.0, mode="nearest")
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def make_probe(n: int, pupil_radius: float, defocus: float, pupil_edge: float = 1.0) -> np.ndarray:
    """Unit-power defocused probe: far field of a soft-edged disk aperture with quadratic phase."""
    k = np.arange(n) - n // 2
    radius = np.hypot(k[:, None], k[None, :])
    aperture = _soft_mask((radius - pupil_radius) / pupil_edge)
    pupil = aperture * np.exp(1j * defocus * (radius / pupil_radius) ** 2)
    probe = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(pupil)))
    return probe / np.sqrt(np.sum(np.abs(probe) ** 2))


def scan_positions(spec: ScanSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Jittered raster of ``grid²`` positions centred on the object, in object pixels (x, y)."""
    offsets = (np.arange(spec.grid) - (spec.grid - 1) / 2) * spec.step
    gy, gx = np.meshgrid(offsets, offsets, indexing="ij")
    centre = (spec.object_size - 1) / 2
    jitter = rng.uniform(-spec.jitter, spec.jitter, size=(2, spec.grid * spec.grid))
    x = centre + gx.ravel() + jitter[0]
    y = centre + gy.ravel() + jitter[1]
    return x, y


def extract_patches(obj: np.ndarray, x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Bilinear object patches ``(M, n, n)``: patch pixel (n//2, n//2) sits on (row=y, col=x)."""
    grid = np.arange(n) - n // 2
    rows = np.asarray(y)[:, None, None] + grid[None, :, None]
    cols = np.asarray(x)[:, None, None] + grid[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    coords = np.stack([rows.ravel(), cols.ravel()])
    real = map_coordinates(obj.real.astype(np.float64), coords, order=1, mode="nearest")
    imag = map_coordinates(obj.imag.astype(np.float64), coords, order=1, mode="nearest")
    return (real + 1j * imag).reshape(rows.shape)


def _check_inside(spec: ScanSpec, x: np.ndarray, y: np.ndarray) -> None:
    """Refuse a spec whose patches would leave the object (they would see invented padding)."""
    low, high = spec.n // 2, spec.object_size - spec.n // 2 - 1
    if min(x.min(), y.min()) < low or max(x.max(), y.max()) > high:
        raise ValueError(f"scan of {spec.grid}x{spec.grid} steps {spec.step} does not fit a "
                         f"{spec.object_size}-pixel object with N={spec.n}")


def simulate_scan(spec: ScanSpec = ScanSpec(), seed: int = 0) -> SimulatedScan:
    """Simulate the scan deterministically: same spec and seed give bit-identical arrays."""
    rng = np.random.default_rng(seed)
    obj = make_object(spec.object_size, spec.amplitude_min)
    x, y = scan_positions(spec, rng)
    _check_inside(spec, x, y)
    patches = extract_patches(obj, x, y, spec.n)
    unit_probe = make_probe(spec.n, spec.pupil_radius, spec.defocus, spec.pupil_edge)
    photons_at_unit_power = np.mean(np.sum(np.abs(patches * unit_probe) ** 2, axis=(-2, -1)))
    probe = unit_probe * np.sqrt(spec.dose / photons_at_unit_power)
    counts = rng.poisson(expected_intensity(patches, probe))
    return SimulatedScan(
        spec=spec, seed=seed, object=obj, probe=probe.astype(np.complex64), xcoords=x, ycoords=y,
        diffraction=np.sqrt(counts).astype(np.float32),
    )


def dataset_arrays(scan: SimulatedScan) -> dict[str, np.ndarray]:
    """The NPZ members, keyed and typed as PtychoPINN datasets are (contract §3.1)."""
    return {
        "diff3d": scan.diffraction,
        "xcoords": scan.xcoords.astype(np.float64),
        "ycoords": scan.ycoords.astype(np.float64),
        "xcoords_start": scan.xcoords.astype(np.float64),
        "ycoords_start": scan.ycoords.astype(np.float64),
        "probeGuess": scan.probe,
        "objectGuess": scan.object,
        "scan_index": np.zeros(len(scan.xcoords), dtype=np.int64),
        "metadata_json": np.array(json.dumps(scan.metadata(), sort_keys=True)),
    }


def write_dataset(scan: SimulatedScan, path: Path) -> None:
    """Write the scan as a compressed NPZ of plain arrays (no pickle), byte-identical for equal scans.

    Members carry a fixed timestamp (``np.savez`` stamps the current time), so a rebuild with the
    same seed leaves the committed file unchanged.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in dataset_arrays(scan).items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
