"""Networks rebuilt from checkpoints: PtychoPINN's default ``cnn`` generator (``models.cnn``)."""

from ptycho_gui.models.cnn import CnnConfig, PtychoPinnCnn, build_cnn

__all__ = ["CnnConfig", "PtychoPinnCnn", "build_cnn"]
