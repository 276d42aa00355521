"""JSON text that is always valid JSON: non-finite numbers become ``null`` and are counted, never ``NaN``."""

from __future__ import annotations

import json
import math

import numpy as np


def finite_tree(payload: object) -> tuple[object, int]:
    """``payload`` with every NaN/±inf float replaced by None, and how many were replaced."""
    count = 0

    def clean(value: object) -> object:
        nonlocal count
        if isinstance(value, (float, np.floating)):
            if math.isfinite(value):
                return float(value)
            count += 1
            return None
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(item) for item in value]
        return value

    return clean(payload), count


def dumps_finite(payload: object, **kwargs) -> str:
    """``json.dumps`` that writes non-finite numbers as ``null`` (strict JSON; ``allow_nan`` is off)."""
    cleaned, _count = finite_tree(payload)
    return json.dumps(cleaned, allow_nan=False, **kwargs)
