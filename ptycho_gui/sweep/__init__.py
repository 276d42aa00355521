"""Sweeps: every checkpoint × dataset pair run by the normal engine, on one machine or a Dask cluster."""
