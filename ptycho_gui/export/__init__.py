"""Writers: atomic files, reconstruction.h5, PtychoPINN-compatible diagnostics, figures and data exports."""
