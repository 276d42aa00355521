"""Judging a reconstruction (Qt-free): comparison with a reference, FRC, the physics residual, group rankings.

Modules: ``frame`` (a reference in the canvas frame), ``registration`` (sub-pixel shift),
``phase_alignment`` (offset and linear ramp), ``frc`` (Fourier ring correlation), ``comparison``
(``compare`` → ``Comparison``), ``forward_model`` (PtychoPINN's amplitude forward model),
``residual`` (predicted vs measured diffraction), ``groups`` (per-group scores, worst groups).
"""
