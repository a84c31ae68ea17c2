"""standardise, pca and resize against the same quantities computed here with numpy.

Standardising: ``(x - mean) / std`` over the training rows (population std), a constant
feature only centred. PCA: the eigenvectors of the training covariance, scores up to a
sign per component. Resizing: torch's ``area`` mode is the mean over the input cells an
output cell overlaps (``floor(i * n / k)`` to ``ceil((i + 1) * n / k)``), its ``bilinear``
mode with ``align_corners=False`` samples at ``(i + 0.5) * n / k - 0.5``, clamped at 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from quarch.data import pca, resize, standardise


def standard_by_hand(train: np.ndarray, other: np.ndarray) -> np.ndarray:
    flat = train.reshape(len(train), -1).astype(np.float64)
    std = flat.std(axis=0)
    std[std == 0] = 1.0
    out = (other.reshape(len(other), -1).astype(np.float64) - flat.mean(axis=0)) / std
    return out.reshape(other.shape)


def area_by_hand(images: np.ndarray, k: int) -> np.ndarray:
    h, w = images.shape[-2:]
    out = np.empty((*images.shape[:-2], k, k))
    for i in range(k):
        r0, r1 = (i * h) // k, -((-(i + 1) * h) // k)
        for j in range(k):
            c0, c1 = (j * w) // k, -((-(j + 1) * w) // k)
            out[..., i, j] = images[..., r0:r1, c0:c1].mean(axis=(-2, -1))
    return out


def bilinear_axis(n: int, k: int) -> np.ndarray:
    """(k, n) interpolation weights along one axis, half-pixel centres."""
    weights = np.zeros((k, n))
    for i in range(k):
        src = max((i + 0.5) * n / k - 0.5, 0.0)
        lo = min(int(np.floor(src)), n - 1)
        hi = min(lo + 1, n - 1)
        frac = src - lo
        weights[i, lo] += 1 - frac
        weights[i, hi] += frac
    return weights


def bilinear_by_hand(images: np.ndarray, k: int) -> np.ndarray:
    h, w = images.shape[-2:]
    return np.einsum("ih,...hw,jw->...ij", bilinear_axis(h, k), images, bilinear_axis(w, k))


class TestStandardise:
    def test_against_numpy_with_a_constant_feature(self) -> None:
        rng = np.random.default_rng(2)
        train = rng.normal([1.0, -4.0, 0.0], [2.0, 0.5, 1.0], size=(40, 3))
        train[:, 2] = 7.0
        val, test = rng.normal(size=(5, 3)), rng.normal(size=(9, 3))
        got = standardise(train, val, test)
        assert [g.shape for g in got] == [(40, 3), (5, 3), (9, 3)]
        for g, x in zip(got, (train, val, test), strict=True):
            assert g.dtype == np.float32
            np.testing.assert_allclose(g, standard_by_hand(train, x), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(got[0][:, 2], 0.0)

    def test_float32_inputs_are_standardised_in_float64(self) -> None:
        """Values near 1000 with a spread of 1e-3: float32 arithmetic on the centring
        loses about 3 % of each value; the statistics must come from float64."""
        rng = np.random.default_rng(3)
        train = (1000 + 1e-3 * rng.normal(size=(50, 2))).astype(np.float32)
        other = (1000 + 1e-3 * rng.normal(size=(6, 2))).astype(np.float32)
        got = standardise(train, other)
        np.testing.assert_allclose(got[0], standard_by_hand(train, train), atol=1e-5)
        np.testing.assert_allclose(got[1], standard_by_hand(train, other), atol=1e-5)

    def test_one_feature_per_sample(self) -> None:
        train, test = standardise(np.array([1.0, 3.0, 5.0]), np.array([7, 1]))
        np.testing.assert_allclose(train, np.array([-1.0, 0.0, 1.0]) * np.sqrt(1.5), rtol=1e-6)
        np.testing.assert_allclose(test, np.array([4.0, -2.0]) / np.sqrt(8 / 3), rtol=1e-6)

    def test_two_samples_are_enough(self) -> None:
        (train,) = standardise(np.array([[0.0, 5.0], [2.0, 5.0]]))
        assert train.tolist() == [[-1.0, 0.0], [1.0, 0.0]]

    @pytest.mark.parametrize(("x", "shape"), [(np.float64(3.0), "()"), (np.ones((1, 2)), "(1, 2)")])
    def test_too_few_samples(self, x: np.ndarray, shape: str) -> None:
        with pytest.raises(ValueError) as info:
            standardise(x)
        assert str(info.value) == f"X_train must hold at least 2 samples; got shape {shape}"

    def test_the_second_other_of_another_shape(self) -> None:
        with pytest.raises(ValueError) as info:
            standardise(np.ones((3, 2, 2)), np.ones((1, 2, 2)), np.ones((4, 4)))
        assert str(info.value) == (
            "others[1] must have per-sample shape (2, 2) like X_train; got (4,)"
        )


class TestPCA:
    def test_images_against_the_covariance_eigenvectors(self) -> None:
        rng = np.random.default_rng(4)
        mix = rng.normal(size=(12, 12)) * np.linspace(3, 0.1, 12)[:, None]
        train = (rng.normal(size=(80, 12)) @ mix).reshape(80, 3, 2, 2)
        other = rng.normal(size=(7, 3, 2, 2))
        tr, te = pca(train, other, k=4)
        flat = train.reshape(80, -1)
        mean = flat.mean(axis=0)
        eigval, eigvec = np.linalg.eigh(np.cov(flat, rowvar=False))
        top = eigvec[:, ::-1][:, :4]
        want_tr, want_te = (flat - mean) @ top, (other.reshape(7, -1) - mean) @ top
        signs = np.sign(np.sum(tr * want_tr, axis=0))
        assert tr.dtype == te.dtype == np.float32
        np.testing.assert_allclose(tr, want_tr * signs, atol=1e-4)
        np.testing.assert_allclose(te, want_te * signs, atol=1e-4)
        np.testing.assert_allclose(tr.var(axis=0, ddof=1), eigval[::-1][:4], rtol=1e-4)

    def test_float32_inputs_are_projected_in_float64(self) -> None:
        rng = np.random.default_rng(5)
        scales = np.array([4.0, 2.0, 1.0, 0.5]) * 1e-3
        train = (1000 + rng.normal(size=(60, 4)) * scales).astype(np.float32)
        (got,) = pca(train, k=2)
        flat = train.astype(np.float64)
        _, eigvec = np.linalg.eigh(np.cov(flat, rowvar=False))
        want = (flat - flat.mean(axis=0)) @ eigvec[:, ::-1][:, :2]
        np.testing.assert_allclose(np.abs(got), np.abs(want), atol=1e-6)

    def test_the_randomized_solver_is_seeded(self) -> None:
        """510 x 60 makes scikit-learn pick its randomized solver; two calls agree."""
        X = np.random.default_rng(6).normal(size=(510, 60))
        first, second = pca(X, k=3), pca(X, k=3)
        np.testing.assert_array_equal(first[0], second[0])

    @pytest.mark.parametrize(
        ("shape", "k"), [((5, 3), 3), ((3, 5), 3), ((4, 1, 2, 2), 4), ((4, 3), 1)]
    )
    def test_k_up_to_the_smaller_side(self, shape: tuple[int, ...], k: int) -> None:
        X = np.random.default_rng(7).normal(size=shape)
        assert pca(X, k=np.int64(k))[0].shape == (shape[0], k)  # type: ignore[arg-type]

    @pytest.mark.parametrize(("k", "shown"), [(4, "4"), (0, "0"), (True, "True"), (1.0, "1.0")])
    def test_bad_k(self, k: object, shown: str) -> None:
        with pytest.raises(ValueError) as info:
            pca(np.ones((3, 5)), k=k)  # type: ignore[arg-type]
        assert str(info.value) == (
            f"k must be an integer in [1, 3] (min of samples and features); got {shown}"
        )

    def test_other_of_another_shape(self) -> None:
        with pytest.raises(ValueError) as info:
            pca(np.ones((6, 4)), np.ones((2, 5)), k=2)
        assert str(info.value) == "others[0] must have per-sample shape (4,) like X_train; got (5,)"


class TestResize:
    @pytest.mark.parametrize(("size", "k"), [((28, 28), 5), ((28, 28), 7), ((9, 6), 4)])
    def test_area_when_shrinking(self, size: tuple[int, int], k: int) -> None:
        images = np.random.default_rng(8).random((3, 2, *size))
        out = resize(images, k)
        assert out.dtype == np.float32 and out.shape == (3, 2, k, k)
        np.testing.assert_allclose(out, area_by_hand(images, k), atol=1e-6)

    @pytest.mark.parametrize(("size", "k"), [((4, 4), 7), ((12, 4), 6), ((4, 12), 6), ((3, 5), 4)])
    def test_bilinear_when_a_side_grows(self, size: tuple[int, int], k: int) -> None:
        images = np.random.default_rng(9).random((2, *size))
        out = resize(images, k)
        assert out.shape == (2, k, k)
        np.testing.assert_allclose(out, bilinear_by_hand(images, k), atol=1e-6)

    def test_equal_to_the_smaller_side_is_area(self) -> None:
        images = np.random.default_rng(10).random((2, 1, 12, 4))
        np.testing.assert_allclose(resize(images, 4), area_by_hand(images, 4), atol=1e-6)
        assert not np.allclose(area_by_hand(images, 4), bilinear_by_hand(images, 4))

    def test_chosen_modes(self) -> None:
        images = np.random.default_rng(11).random((2, 1, 12, 4))
        np.testing.assert_allclose(
            resize(images, 4, mode="bilinear"), bilinear_by_hand(images, 4), atol=1e-6
        )
        six = resize(images, np.int64(6), mode="area")  # type: ignore[arg-type]
        np.testing.assert_allclose(six, area_by_hand(images, 6), atol=1e-6)

    def test_integer_images(self) -> None:
        images = np.arange(2 * 16, dtype=np.uint8).reshape(2, 4, 4)
        out = resize(images, 2)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, area_by_hand(images.astype(np.float64), 2))

    @pytest.mark.parametrize(
        ("images", "k", "mode", "message"),
        [
            (np.zeros((1, 1, 1, 4, 4)), 2, None,
             "images must have shape (n, C, H, W) or (n, H, W); got shape (1, 1, 1, 4, 4)"),
            (np.zeros((1, 4, 4)), True, None, "k must be an integer >= 1; got True"),
            (np.zeros((1, 4, 4)), 2.0, None, "k must be an integer >= 1; got 2.0"),
            (np.zeros((1, 4, 4)), 2, "bicubic",
             "mode must be 'area', 'bilinear' or None; got 'bicubic'"),
        ],
    )  # fmt: skip
    def test_refusals(self, images: np.ndarray, k: object, mode: object, message: str) -> None:
        with pytest.raises(ValueError) as info:
            resize(images, k, mode=mode)  # type: ignore[arg-type]
        assert str(info.value) == message

    def test_one_pixel(self) -> None:
        images = np.random.default_rng(12).random((2, 1, 5, 3))
        np.testing.assert_allclose(
            resize(images, 1)[:, :, 0, 0], images.mean(axis=(2, 3)), atol=1e-6
        )
