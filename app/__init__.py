"""Qt desktop shell of ptycho-gui (installed as ptycho_gui.app)."""
