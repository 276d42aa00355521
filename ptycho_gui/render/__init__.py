"""Rendering of annotated figures (patch grids, canvases, statistics) shared by the GUI and the CLI."""
