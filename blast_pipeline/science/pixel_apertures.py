"""Sky apertures converted to pixel apertures, with a small cache.

photutils' ``SkyAperture.to_pixel`` costs 3-10 ms (a local WCS Jacobian through astropy's
high-level coordinate API), and a transient's tasks convert the same aperture on the same grid
several times: the local circle on the five images of each survey (one grid per survey), each
global aperture in its photometry, its contamination check and its crop. `to_pixel` returns a
copy of the cached conversion when the aperture's defining values and the WCS's header are
identical, so the answer is always the one ``sky.to_pixel(wcs)`` gives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from astropy.wcs import WCS
from photutils.aperture import (
    PixelAperture,
    SkyAperture,
    SkyCircularAperture,
    SkyEllipticalAperture,
)

__all__ = ["to_pixel"]

MAX_ENTRIES = 512

_cache: OrderedDict[tuple, PixelAperture] = OrderedDict()
_lock = threading.Lock()


def _quantity_key(q) -> tuple:
    return (float(q.value), q.unit.to_string())


def _sky_key(sky: SkyAperture) -> tuple | None:
    """The values that define ``sky`` exactly (stored, not converted), or None if not cacheable."""
    positions = sky.positions
    if not positions.isscalar or positions.frame.name != "icrs":
        return None
    data = positions.data
    centre = (_quantity_key(data.lon), _quantity_key(data.lat))
    if type(sky) is SkyCircularAperture:
        return ("circle", centre, _quantity_key(sky.r))
    if type(sky) is SkyEllipticalAperture:
        shape = (_quantity_key(sky.a), _quantity_key(sky.b), _quantity_key(sky.theta))
        return ("ellipse", centre, shape)
    return None


def to_pixel(sky: SkyAperture, wcs: WCS) -> PixelAperture:
    """``sky.to_pixel(wcs)``, from the cache when the same aperture was converted on a WCS with
    the same header (and no lookup-table or SIP distortion)."""
    key = _sky_key(sky)
    if key is None or wcs.has_distortion:
        return sky.to_pixel(wcs)
    key = (key, wcs.to_header_string(relax=True))
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found.copy()
    pixel = sky.to_pixel(wcs)
    with _lock:
        _cache[key] = pixel.copy()
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return pixel
