"""Per-image background, noise and source catalogues, computed once and shared by several tasks.

Blast estimates the background of the same image three times (aperture construction,
photometry, validation), each time with a plain ``Background2D`` whose boxes include the galaxy
itself, which biases aperture fluxes low by 1.6-5% (science notes, section 7). `ImageAnalysis`
does the estimate once, with Blast's box size and estimators, but with the sources masked first:

1. A first background, only to find the sources: Blast's ``Background2D`` (box
   ``int(0.1 * sqrt(N_pix))``, ``SExtractorBackground(sigma_clip=None)``, or
   ``MeanBackground(SigmaClip(3))`` for GALEX; retried with ``exclude_percentile=50`` on
   `ValueError`) computed on the image binned in 4 x 4 blocks (`BIN_FACTOR`) with the box
   divided by 4 (the same box on the sky, a sixteenth of the cost);
   GALEX images (small) and images too small to bin get Blast's full-resolution pass.
2. One detection pass on the smoothed, background-subtracted binned image (the full-resolution
   one after a full-resolution first pass); the segmentation is dilated into a source mask,
   large sources by their own size (`grow_source_mask`), and each masked binned pixel masks its
   block.
3. Blast's ``Background2D`` (box, estimator) with that mask, at full resolution
   (`masked_background`). Blast's ``exclude_percentile=10`` would leave out most boxes of a
   crowded or deep field once its sources are masked (the background then comes from a few
   distant boxes), so the allowed masked share is raised until half of the boxes are
   measured. (A final pass on the binned image was a third of the cost but biased: block means
   change the pixel distribution that Blast's mode estimator sees, SDSS u fluxes 5 % low.) If
   it cannot be computed (too much of the image is masked) or nothing was detected, Blast's
   plain (unmasked) estimate is used and `ImageAnalysis.source_masked` says so. The scatter
   of the final pass's boxes gives the background level's error
   (`ImageAnalysis.background_level_error_in`, `science.background_level`).

Photon-counting maps (GALEX, ``photon_exposure_s``): most pixels of an FUV map hold no photon,
so sigma clipping puts its RMS and sky at ~0. Their detection noise is at least Poisson's, and
the final pass is masked (with an empty mask when nothing is detected) and unclipped.

Segmentations and `~photutils.segmentation.SourceCatalog` objects for a detection threshold are
computed on demand and cached, so the aperture and validation steps share them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from photutils.segmentation import SegmentationImage, SourceCatalog

from blast_pipeline.science.background_estimate import (
    EXCLUDE_PERCENTILE,
    MAX_EXCLUDE_PERCENTILE,
    MIN_KEPT_FRACTION,
    BackgroundEstimationError,
    background_box_size,
    estimate_background,
    final_maps,
    masked_background,
)
from blast_pipeline.science.detection import (
    DETECTION_KERNEL_NOISE_FACTOR,
    MAD_STD_MAX_VALUES,
    detect_sources_quietly,
    mad_std,
    smooth_for_detection,
)
from blast_pipeline.science.filters import get_filter
from blast_pipeline.science.gain import photon_exposure_s
from blast_pipeline.science.mesh_map import MeshMap, background_image, zoom_mesh
from blast_pipeline.science.source_mask import MAX_GROWTH_BOXES, grow_source_mask

__all__ = [
    "EXCLUDE_PERCENTILE",
    "MAD_STD_MAX_VALUES",
    "MAX_EXCLUDE_PERCENTILE",
    "MIN_KEPT_FRACTION",
    "BackgroundEstimationError",
    "ImageAnalysis",
    "MeshMap",
    "background_box_size",
    "background_image",
    "detect_sources_quietly",
    "estimate_background",
    "mad_std",
    "masked_background",
    "smooth_for_detection",
]


#: Block size (pixels a side) of the binned image that the mask-building first pass of large
#: images runs on.
BIN_FACTOR = 4


def _bin2_finite(data: np.ndarray) -> np.ndarray:
    """``data`` (no NaN) averaged in 2 x 2 blocks, a trailing odd row or column dropped."""
    ny, nx = (data.shape[0] // 2) * 2, (data.shape[1] // 2) * 2
    total = data[0:ny:2, 0:nx:2] + data[1:ny:2, 0:nx:2]
    total += data[0:ny:2, 1:nx:2]
    total += data[1:ny:2, 1:nx:2]
    total *= 0.25
    return total


def _bin(data: np.ndarray, factor: int, all_finite: bool = False) -> np.ndarray:
    """``data`` averaged in ``factor`` x ``factor`` blocks (trailing rows and columns that do
    not fill a block dropped), NaN ignored; NaN where a block has no finite pixel.
    ``all_finite`` says ``data`` has no NaN."""
    if all_finite and factor in (2, 4):
        binned = _bin2_finite(data)
        return binned if factor == 2 else _bin2_finite(binned)
    ny, nx = (data.shape[0] // factor) * factor, (data.shape[1] // factor) * factor
    blocks = data[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)
    finite = np.isfinite(blocks)
    total = np.where(finite, blocks, 0.0).sum(axis=(1, 3))
    count = finite.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class _FirstPass:
    """The mask-building background pass. ``background``/``rms`` are at full resolution; when
    the pass ran on the binned image, ``binned_residual`` (binned image minus its
    background, NaN where no pixel is finite) and ``binned_rms`` are the binned images the
    sources are detected on."""

    background: np.ndarray | None
    rms: np.ndarray | None
    binned_residual: np.ndarray | None = None
    binned_rms: np.ndarray | None = None


def _binned_background(
    data: np.ndarray, filter_name: str | None, all_finite: bool = False
) -> _FirstPass | None:
    """The first (mask-building) pass on the binned image (`BIN_FACTOR`): Blast's estimator,
    Blast's box divided by the factor (about the same box on the sky), a fraction of the cost. None if the image is too
    small or the estimate fails."""
    box = background_box_size(data.shape) // BIN_FACTOR
    if box < 2 or min(data.shape) < 2 * BIN_FACTOR:
        return None
    binned = _bin(data, BIN_FACTOR, all_finite)
    invalid = ~np.isfinite(binned)
    try:
        bkg = estimate_background(
            binned, filter_name=filter_name, mask=invalid if invalid.any() else None, box=box
        )
    except BackgroundEstimationError:
        return None
    residual = binned - zoom_mesh(np.asarray(bkg.background_mesh, dtype=float), box, binned.shape)
    rms = zoom_mesh(np.asarray(bkg.background_rms_mesh, dtype=float), box, binned.shape)
    return _FirstPass(None, None, residual, rms)


def _upsample(binned: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Each pixel of a binned image repeated over its block; dropped trailing rows/columns
    repeat the last one."""
    full = binned.repeat(BIN_FACTOR, axis=0).repeat(BIN_FACTOR, axis=1)
    pad = ((0, shape[0] - full.shape[0]), (0, shape[1] - full.shape[1]))
    return np.pad(full, pad, mode="edge") if pad[0][1] or pad[1][1] else full


def _frozen(array: np.ndarray) -> np.ndarray:
    """A new array this module made, made read-only in place (no copy)."""
    array.flags.writeable = False
    return array


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=float, copy=True)
    array.flags.writeable = False
    return array


class ImageAnalysis:
    """Background, background RMS and source catalogues of one image.

    Parameters
    ----------
    data : 2D array
        The image (a private read-only float copy is kept).
    wcs : `~astropy.wcs.WCS`, optional
        Passed to the source catalogues (for ``sky_centroid``).
    filter_name : str, optional
        Blast filter name; ``GALEX_*`` selects the sigma-clipped mean background estimator.
    mask_sources : bool
        Mask detected sources before the final background estimate (default). ``False`` gives
        Blast's plain background.
    mask_threshold_sigma, mask_n_pixels, mask_dilate_radius
        Detection threshold (in units of the noise of the image smoothed with a 3-pixel FWHM
        Gaussian, measured on the image so that correlated noise is handled), minimum segment
        size, and the radius in pixels of the circular footprint
        that dilates the segmentation into the source mask.
    photon_exposure_s : float, optional
        Exposure [s] of a photon-counting count-rate map (GALEX: ``EXPTIME``). Sigma clipping
        drives a photon-starved map's RMS to ~0, so that every photon would be "detected";
        the detection noise is then at least Poisson's, ``sqrt(mean rate / exposure)``.

    Raises `BackgroundEstimationError` if no background can be estimated.
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        wcs: WCS | None = None,
        filter_name: str | None = None,
        mask_sources: bool = True,
        mask_threshold_sigma: float = 3.0,
        mask_n_pixels: int = 10,
        mask_dilate_radius: int = 7,
        photon_exposure_s: float | None = None,
    ) -> None:
        data = np.asarray(data)
        if data.ndim != 2:
            raise ValueError(f"image must be 2D, got shape {data.shape}")
        if not np.issubdtype(data.dtype, np.number):
            raise ValueError(f"image must be numeric, got dtype {data.dtype}")
        self.data = _readonly(data)
        self.wcs = wcs
        self.filter_name = filter_name
        self.photon_exposure_s = photon_exposure_s
        finite = np.isfinite(self.data)
        if not finite.any():
            raise BackgroundEstimationError("image has no finite pixels")
        self.invalid_mask = _frozen(~finite)
        invalid = self.invalid_mask if self.invalid_mask.any() else None

        source_mask = None
        plain = final = None
        if mask_sources:
            # The mask is built on a cheaper first pass (the binned image; Blast's own
            # plain pass for GALEX); the final background is Blast's, masked, or Blast's plain
            # one if there is no mask or the masked pass fails.
            first = None
            if filter_name is None or "GALEX" not in filter_name:
                first = _binned_background(self.data, filter_name, invalid is None)
            if first is None:
                plain = final_maps(
                    estimate_background(
                        self.data, filter_name=filter_name, mask=invalid, filter_size=(1, 1)
                    ),
                    self.shape,
                )
                first = _FirstPass(plain[0].image(), plain[1].image())
            source_mask = self._make_source_mask(
                first, mask_threshold_sigma, mask_n_pixels, mask_dilate_radius
            )
            if source_mask is None and photon_exposure_s is not None:
                source_mask = np.zeros(self.shape, dtype=bool)  # nothing to mask: no clipping
            if source_mask is not None:
                try:
                    final = final_maps(
                        masked_background(
                            self.data,
                            background_box_size(self.data.shape),
                            source_mask | ~finite,
                            filter_name,
                            filter_size=(1, 1),
                            photon_counting=photon_exposure_s is not None,
                        ),
                        self.shape,
                    )
                except BackgroundEstimationError:
                    source_mask = None
        if final is None:
            final = plain or final_maps(
                estimate_background(
                    self.data, filter_name=filter_name, mask=invalid, filter_size=(1, 1)
                ),
                self.shape,
            )
        self.background_map, self.rms_map, self.level_error_map = final
        # grow_source_mask returns a new array: frozen without a copy.
        self.source_mask = None if source_mask is None else _frozen(source_mask)
        self._segmentations: dict[tuple[float, int], SegmentationImage | None] = {}
        self._catalogs: dict[tuple[float, int], SourceCatalog | None] = {}

    @classmethod
    def from_hdu(
        cls,
        hdu: fits.PrimaryHDU | fits.ImageHDU | fits.HDUList,
        *,
        filter_name: str | None = None,
        **kwargs,
    ) -> ImageAnalysis:
        """Analyse the image of an HDU (or the first HDU of a list), with its celestial WCS
        and, for a photon-counting filter, the exposure from its header."""
        if isinstance(hdu, fits.HDUList):
            hdu = hdu[0]
        if hdu.data is None:
            raise ValueError("HDU has no image data")
        if filter_name is not None and "photon_exposure_s" not in kwargs:
            kwargs["photon_exposure_s"] = photon_exposure_s(get_filter(filter_name), hdu.header)
        return cls(hdu.data, wcs=WCS(hdu.header).celestial, filter_name=filter_name, **kwargs)

    @property
    def source_masked(self) -> bool:
        """Whether the background was estimated with the sources masked."""
        return self.source_mask is not None

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape

    @cached_property
    def background(self) -> np.ndarray:
        """The background image (read-only; made on first use, see `background_in`)."""
        return _frozen(self.background_map.image())

    @cached_property
    def background_rms(self) -> np.ndarray:
        """The background RMS image (read-only; made on first use, see `background_rms_in`)."""
        return _frozen(self.rms_map.image())

    @cached_property
    def unmasked_mean(self) -> float:
        """Mean of the finite pixels outside the source mask (image units): the expected sky of
        a photon-counting image, which the sigma-clipped box estimates put near 0 when most
        pixels hold no photon."""
        excluded = (
            self.invalid_mask if self.source_mask is None else self.invalid_mask | self.source_mask
        )
        values = self.data[~excluded]
        return float(values.mean()) if values.size else 0.0

    @cached_property
    def subtracted(self) -> np.ndarray:
        """The background-subtracted image (read-only)."""
        return _frozen(self.data - self.background)  # a new array: frozen without a copy

    def _whole(self, name: str) -> np.ndarray | None:
        return self.__dict__.get(name)  # a cached_property already made, else None

    def background_in(self, region: tuple[slice, slice]) -> np.ndarray:
        """``background[region]``, without making the whole image if it is not made yet."""
        whole = self._whole("background")
        return whole[region] if whole is not None else self.background_map.region(region)

    def background_rms_in(self, region: tuple[slice, slice]) -> np.ndarray:
        """``background_rms[region]``, without making the whole image if it is not made yet."""
        whole = self._whole("background_rms")
        return whole[region] if whole is not None else self.rms_map.region(region)

    def background_level_error_in(self, region: tuple[slice, slice]) -> np.ndarray:
        """The background level's standard error on ``region`` (image units; shared by the
        pixels of an aperture, `science.background_level`)."""
        return self.level_error_map.region(region)

    def subtracted_in(self, region: tuple[slice, slice]) -> np.ndarray:
        """``subtracted[region]``, without making the whole image if it is not made yet."""
        whole = self._whole("subtracted")
        return (
            whole[region] if whole is not None else self.data[region] - self.background_in(region)
        )

    def _make_source_mask(
        self, first: _FirstPass, threshold_sigma: float, n_pixels: int, dilate_radius: int
    ) -> np.ndarray | None:
        """Detect sources on the smoothed residual of the first pass and dilate them into a
        full-resolution mask; None if nothing is detected.

        After a binned first pass the detection runs on the binned image (a fraction of the
        pixels; ``n_pixels`` and ``dilate_radius`` are scaled from full-resolution pixels) and
        each masked binned pixel masks its block.
        """
        if first.binned_residual is not None:
            residual, rms = first.binned_residual, first.binned_rms
            invalid = ~np.isfinite(residual)
            n_pixels = max(1, math.ceil(n_pixels / BIN_FACTOR**2))
            dilate_radius = math.ceil(dilate_radius / BIN_FACTOR)
            box = background_box_size(self.data.shape) // BIN_FACTOR
        else:
            residual = self.data - first.background
            rms = first.rms
            invalid = self.invalid_mask
            box = background_box_size(self.data.shape)
        if self.photon_exposure_s is not None:
            rate = max(float(np.nanmean(self.data)), 0.0)
            rms = np.maximum(rms, math.sqrt(rate / self.photon_exposure_s))
        all_finite = not invalid.any()
        smoothed = smooth_for_detection(residual, all_finite=all_finite)
        if self.photon_exposure_s is not None:
            # photons land in one pixel each (white noise); the MADs of a map that is mostly
            # zeros say nothing
            factor = DETECTION_KERNEL_NOISE_FACTOR
        else:
            # Smoothing lowers the noise by a factor measured robustly on the image itself (for
            # white noise it would be sqrt(sum(kernel**2)); resampled survey images have
            # correlated noise): mad_std of the smoothed image over that of the unsmoothed one,
            # whose RMS ``rms`` is.
            if all_finite:
                raw_std = mad_std(residual.reshape(-1))
                smoothed_std = mad_std(smoothed.reshape(-1))
            else:
                raw_std = mad_std(residual[~invalid])
                smoothed_std = mad_std(smoothed[~invalid])
            factor = smoothed_std / raw_std if raw_std > 0 else 1.0
        segm = detect_sources_quietly(
            smoothed,
            threshold_sigma * float(factor) * rms,
            n_pixels=n_pixels,
            mask=None if all_finite else invalid,
        )
        if segm is None:
            return None
        mask = grow_source_mask(segm, dilate_radius, MAX_GROWTH_BOXES * box)
        return mask if first.binned_residual is None else _upsample(mask, self.data.shape)

    @property
    def cached_segmentations(self) -> frozenset[tuple[float, int]]:
        """The ``(threshold_sigma, n_pixels)`` whose whole-image segmentation is computed."""
        return frozenset(self._segmentations)

    def segmentation(self, threshold_sigma: float, n_pixels: int = 10) -> SegmentationImage | None:
        """Blast's segmentation: ``detect_sources(data - bkg, sigma * rms, n_pixels)``.

        No smoothing and no deblending, as in Blast. None if nothing is detected. Cached.
        """
        key = (float(threshold_sigma), int(n_pixels))
        if key not in self._segmentations:
            self._segmentations[key] = detect_sources_quietly(
                self.subtracted,
                key[0] * self.background_rms,
                n_pixels=key[1],
                mask=self.invalid_mask if self.invalid_mask.any() else None,
            )
        return self._segmentations[key]

    def catalog(self, threshold_sigma: float, n_pixels: int = 10) -> SourceCatalog | None:
        """`~photutils.segmentation.SourceCatalog` of `segmentation` (None if no source). Cached."""
        key = (float(threshold_sigma), int(n_pixels))
        if key not in self._catalogs:
            segm = self.segmentation(*key)
            self._catalogs[key] = (
                None
                if segm is None
                else SourceCatalog(
                    self.subtracted,
                    segm,
                    mask=self.invalid_mask if self.invalid_mask.any() else None,
                    wcs=self.wcs,
                )
            )
        return self._catalogs[key]
