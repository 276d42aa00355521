"""Readers for checkpoints and scan datasets, with the safety checks untrusted files need."""
