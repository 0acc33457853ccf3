"""Milky Way reddening from the SFD dust map, recalibrated as Blast does (reference 1.6)."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

#: Schlafly & Finkbeiner (2011) recalibration of the SFD (1998) map.
SFD_RECALIBRATION = 0.86


class DustMapUnavailable(RuntimeError):
    """The SFD map files are missing or unreadable."""


@lru_cache(maxsize=4)
def _sfd_query(map_dir: str):
    """One ``SFDQuery`` per map folder: the real maps are 2 x 64 MiB, read once per process."""
    import warnings

    with warnings.catch_warnings():  # no ~/.dustmapsrc needed: the folder is always explicit
        warnings.filterwarnings("ignore", message="Configuration file not found")
        from dustmaps.sfd import SFDQuery

    folder = Path(map_dir)
    missing = [
        p.name
        for p in (folder / "SFD_dust_4096_ngp.fits", folder / "SFD_dust_4096_sgp.fits")
        if not p.is_file()
    ]
    if missing:
        raise DustMapUnavailable(f"SFD map file(s) {', '.join(missing)} not found in {folder}")
    return SFDQuery(map_dir=str(folder))


def milky_way_ebv(ra_deg: float, dec_deg: float, map_dir: Path | str) -> float:
    """E(B-V) = 0.86 x SFD at an ICRS position, in magnitudes.

    Raises ``DustMapUnavailable`` when the map cannot be read and ``ValueError`` for an invalid
    position or a non-finite map value.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    if not (math.isfinite(dec_deg) and -90 <= dec_deg <= 90 and math.isfinite(ra_deg)):
        raise ValueError(f"invalid position RA={ra_deg!r}, Dec={dec_deg!r}")
    query = _sfd_query(str(map_dir))
    value = float(query(SkyCoord(ra_deg * u.deg, dec_deg * u.deg, frame="icrs")))
    if not math.isfinite(value):
        raise ValueError(f"the SFD map has no finite value at RA={ra_deg}, Dec={dec_deg}")
    return SFD_RECALIBRATION * value
