"""Complex (HSV) display on the canvas and ground-truth views: an RGB layer drawn over the plot's own image.

The layer is ``render.complex_display.complex_rgb`` of the complex image (hue = phase with its global
offset removed, brightness = amplitude within robust levels) with the phase wheel as legend beside the
checkbox. The view underneath keeps its quantity, readout and levels; the layer is computed off the GUI
thread and redrawn whenever the image changes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from ptycho_gui.app.background import BackgroundQueue
from ptycho_gui.app.compare_view import wheel_pixmap
from ptycho_gui.app.plot_helpers import ImagePlot
from ptycho_gui.render.complex_display import complex_rgb, remove_phase_offset, robust_levels

LAYER_Z = 2
"""Above the image and its uncovered veil, below the scan-position overlays."""
WHEEL_PX = 28


def hsv_picture(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(H, W, 4) uint8 HSV rendering of a complex image (phase offset removed, amplitude on robust levels),
    transparent outside ``mask`` so the view's own veil of uncovered pixels shows through."""
    aligned = remove_phase_offset(image, mask)
    levels = robust_levels(np.abs(aligned), mask)
    alpha = np.full(aligned.shape, 255, dtype=np.uint8) if mask is None else np.where(mask, 255, 0).astype(np.uint8)
    return np.concatenate([complex_rgb(aligned, (0.0, levels[1])), alpha[..., None]], axis=-1)


class ComplexLayer(QWidget):
    """A 'complex (HSV)' checkbox with its phase wheel; when on, an RGB layer covers ``plot``'s image.

    ``source`` returns (complex image, mask of valid pixels or None, rect) or None when there is nothing.
    """

    def __init__(self, plot: ImagePlot,
                 source: Callable[[], tuple[np.ndarray, np.ndarray | None, tuple[float, float, float, float]] | None],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._plot, self._source = plot, source
        self.queue = BackgroundQueue(self)
        self._busy = self._stale = False
        self.picture: np.ndarray | None = None
        self.layer = pg.ImageItem(axisOrder="row-major")
        self.layer.setZValue(LAYER_Z)
        self.layer.setVisible(False)
        plot.plot.addItem(self.layer)
        self.enabled = QCheckBox("complex (HSV)")
        self.enabled.setToolTip("hue = phase (global offset removed), brightness = amplitude")
        self.wheel = QLabel()
        self.wheel.setPixmap(wheel_pixmap(WHEEL_PX))
        self.wheel.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled)
        layout.addWidget(self.wheel)
        layout.addStretch(1)
        self.enabled.toggled.connect(self._on_toggled)

    @Slot(bool)
    def _on_toggled(self, on: bool) -> None:
        self.wheel.setVisible(on)
        self.layer.setVisible(on)
        if on:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the layer from the current image (in the background; once more if it changes meanwhile)."""
        if not self.enabled.isChecked():
            return
        if self._busy:
            self._stale = True
            return
        source = self._source()
        if source is None:
            self.layer.clear()
            return
        image, mask, rect = source
        self._busy, self._stale = True, False
        self.queue.submit(lambda: (hsv_picture(image, mask), rect), self._on_picture)

    def _on_picture(self, result, error: str | None) -> None:
        self._busy = False
        if error is None and self.enabled.isChecked():
            self.picture, rect = result
            self.layer.setImage(self.picture, autoLevels=False, levels=(0, 255))
            self.layer.setRect(QRectF(*rect))
        if self._stale:
            self.refresh()
