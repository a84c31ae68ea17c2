"""Preprocessing that turns a data set into what a small (quantum) model can take.

Every transform is fitted on the training split only and applied unchanged to the
others, so validation and test numbers never see statistics of their own data. Quantum
models often take 4-16 inputs, hence PCA and image down-sizing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["pca", "resize", "standardise"]


def _check_others(X_train: np.ndarray, others: tuple[np.ndarray, ...]) -> None:
    """Require every other array to have the training array's per-sample shape."""
    for i, other in enumerate(others):
        if other.shape[1:] != X_train.shape[1:]:
            raise ValueError(
                f"others[{i}] must have per-sample shape {X_train.shape[1:]} like X_train; "
                f"got {other.shape[1:]}"
            )


def standardise(X_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scale every feature to mean 0 and standard deviation 1 on the training split.

    Uses scikit-learn's ``StandardScaler`` on the flattened samples; features that are
    constant in training (image borders) are only centred, not divided by zero.

    Args:
        X_train (np.ndarray): ``(n, *shape)`` training samples; the statistics come
            from these alone.
        *others (np.ndarray): ``(m, *shape)`` arrays (validation, test) to transform
            with the same statistics.

    Returns:
        tuple[np.ndarray, ...]: float32 arrays in the input shapes, training first.

    Raises:
        ValueError: an array's per-sample shape differs from ``X_train``'s, or
            ``X_train`` has fewer than 2 samples.

    Example:
        >>> import numpy as np
        >>> from quarch.data import standardise
        >>> tr, te = standardise(np.array([[0.0], [2.0]]), np.array([[4.0]]))
        >>> tr.ravel().tolist(), te.ravel().tolist()
        ([-1.0, 1.0], [3.0])
    """
    from sklearn.preprocessing import StandardScaler

    X_train = np.asarray(X_train)
    others = tuple(np.asarray(o) for o in others)
    if X_train.ndim < 1 or X_train.shape[0] < 2:
        raise ValueError(f"X_train must hold at least 2 samples; got shape {X_train.shape}")
    _check_others(X_train, others)
    scaler = StandardScaler().fit(X_train.reshape(len(X_train), -1).astype(np.float64))
    return tuple(
        scaler.transform(a.reshape(len(a), -1).astype(np.float64))
        .astype(np.float32)
        .reshape(a.shape)
        for a in (X_train, *others)
    )


def pca(X_train: np.ndarray, *others: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Project samples onto the ``k`` leading principal components of the training split.

    Samples are flattened first, so images work directly. scikit-learn's ``PCA`` is used
    with a fixed ``random_state``: its randomized solver (picked for large inputs) would
    otherwise make the features, and so a search, irreproducible.

    Args:
        X_train (np.ndarray): ``(n, *shape)`` training samples the components come from.
        *others (np.ndarray): ``(m, *shape)`` arrays projected with the same components.
        k (int): number of components, ``1 <= k <= min(n, prod(shape))``.

    Returns:
        tuple[np.ndarray, ...]: float32 arrays of shape ``(n, k)``, training first;
        column ``j`` is the score on the ``j``-th largest-variance direction.

    Raises:
        ValueError: ``k`` is out of range, or an array's per-sample shape differs.

    Example:
        >>> import numpy as np
        >>> from quarch.data import pca
        >>> X = np.random.default_rng(0).normal(size=(50, 6))
        >>> [a.shape for a in pca(X[:40], X[40:], k=2)]
        [(40, 2), (10, 2)]
    """
    from sklearn.decomposition import PCA

    X_train = np.asarray(X_train)
    others = tuple(np.asarray(o) for o in others)
    _check_others(X_train, others)
    flat = X_train.reshape(len(X_train), -1)
    limit = min(flat.shape)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= limit:
        raise ValueError(
            f"k must be an integer in [1, {limit}] (min of samples and features); got {k!r}"
        )
    model = PCA(n_components=int(k), random_state=0).fit(flat.astype(np.float64))
    return tuple(
        model.transform(a.reshape(len(a), -1).astype(np.float64)).astype(np.float32)
        for a in (X_train, *others)
    )


def resize(
    images: np.ndarray, k: int, *, mode: Literal["area", "bilinear"] | None = None
) -> np.ndarray:
    """Resize images to ``k x k`` pixels with ``torch.nn.functional.interpolate``.

    Small quantum models take few inputs, so MNIST is often shrunk to 4x4 to 8x8 first.

    Args:
        images (np.ndarray): ``(n, C, H, W)`` or ``(n, H, W)`` images.
        k (int): output side, ``k >= 1``.
        mode (str | None): ``"area"`` (averages the pixels each output covers; the right
            choice for shrinking) or ``"bilinear"``; None picks area when no side grows,
            bilinear otherwise.

    Returns:
        np.ndarray: float32 images of shape ``(n, C, k, k)`` or ``(n, k, k)``, matching
        the input's layout.

    Raises:
        ValueError: ``images`` is not 3-D or 4-D, ``k`` < 1, or ``mode`` is unknown.

    Example:
        >>> import numpy as np
        >>> from quarch.data import resize
        >>> resize(np.ones((2, 1, 28, 28)), 7).shape
        (2, 1, 7, 7)
    """
    import torch
    import torch.nn.functional as F

    arr = np.asarray(images)
    if arr.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, C, H, W) or (n, H, W); got shape {arr.shape}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    if mode is None:
        mode = "area" if k <= min(arr.shape[-2:]) else "bilinear"
    if mode not in ("area", "bilinear"):
        raise ValueError(f"mode must be 'area', 'bilinear' or None; got {mode!r}")
    x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    x4 = x.unsqueeze(1) if arr.ndim == 3 else x
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    out = F.interpolate(x4, size=(int(k), int(k)), mode=mode, **kwargs)
    if arr.ndim == 3:
        out = out.squeeze(1)
    return out.numpy()
