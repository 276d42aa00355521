"""ptycho-gui core: Qt-free readers, networks, engine, stitching, statistics, export and CLI."""

__version__ = "0.1.0"
