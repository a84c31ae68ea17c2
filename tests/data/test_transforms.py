"""standardise, pca and resize against numpy computations of the same quantities."""

from __future__ import annotations

import numpy as np
import pytest

from quarch.data import pca, resize, standardise


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1)


class TestStandardise:
    def test_train_is_standard_and_others_use_train_statistics(
        self, rng: np.random.Generator
    ) -> None:
        X = rng.normal(3.0, [1.0, 5.0, 0.1], size=(200, 3))
        other = rng.normal(size=(20, 3))
        tr, te = standardise(X, other)
        assert tr.dtype == np.float32 and te.dtype == np.float32
        np.testing.assert_allclose(tr.mean(axis=0), 0.0, atol=1e-5)
        np.testing.assert_allclose(tr.std(axis=0), 1.0, atol=1e-5)
        np.testing.assert_allclose(te, (other - X.mean(0)) / X.std(0), rtol=1e-5, atol=1e-5)

    def test_images_keep_shape_and_constant_pixels_stay_finite(
        self, rng: np.random.Generator
    ) -> None:
        X = rng.random((30, 1, 4, 4))
        X[:, 0, 0, 0] = 0.5  # a constant border pixel
        (tr,) = standardise(X)
        assert tr.shape == (30, 1, 4, 4)
        assert np.all(np.isfinite(tr))
        np.testing.assert_array_equal(tr[:, 0, 0, 0], 0.0)

    def test_mismatched_shape(self, rng: np.random.Generator) -> None:
        with pytest.raises(
            ValueError,
            match=r"others\[0\] must have per-sample shape \(3,\) like X_train; got \(4,\)",
        ):
            standardise(rng.random((5, 3)), rng.random((5, 4)))

    def test_too_few_samples(self) -> None:
        with pytest.raises(
            ValueError, match=r"X_train must hold at least 2 samples; got shape \(1, 3\)"
        ):
            standardise(np.ones((1, 3)))


class TestPCA:
    def test_matches_eigendecomposition(self, rng: np.random.Generator) -> None:
        X = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
        other = rng.normal(size=(10, 6))
        tr, te = pca(X, other, k=3)
        assert tr.shape == (300, 3) and te.shape == (10, 3) and tr.dtype == np.float32
        mean = X.mean(axis=0)
        eigval, eigvec = np.linalg.eigh(np.cov(X - mean, rowvar=False))
        top = eigvec[:, ::-1][:, :3]
        want_tr, want_te = (X - mean) @ top, (other - mean) @ top
        signs = np.sign(np.sum(tr * want_tr, axis=0))  # components are defined up to sign
        np.testing.assert_allclose(tr, want_tr * signs, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(te, want_te * signs, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(tr.var(axis=0, ddof=1), eigval[::-1][:3], rtol=1e-4)

    def test_flattens_images(self, rng: np.random.Generator) -> None:
        (out,) = pca(rng.random((40, 1, 4, 4)), k=5)
        assert out.shape == (40, 5)

    @pytest.mark.parametrize("k", [0, 5, 2.0])
    def test_bad_k(self, rng: np.random.Generator, k: object) -> None:
        with pytest.raises(ValueError, match=rf"k must be an integer in \[1, 4\] .*; got {k!r}"):
            pca(rng.random((10, 4)), k=k)  # type: ignore[arg-type]


class TestResize:
    @pytest.mark.parametrize(
        ("shape", "k", "expected"),
        [
            ((3, 1, 28, 28), 7, (3, 1, 7, 7)),
            ((3, 28, 28), 4, (3, 4, 4)),
            ((2, 3, 8, 8), 16, (2, 3, 16, 16)),
        ],
    )
    def test_shape(self, shape: tuple[int, ...], k: int, expected: tuple[int, ...]) -> None:
        out = resize(np.zeros(shape), k)
        assert out.shape == expected and out.dtype == np.float32

    @pytest.mark.parametrize(("k", "mode"), [(7, None), (5, "area"), (40, None), (5, "bilinear")])
    def test_constant_stays_constant(self, k: int, mode: str | None) -> None:
        out = resize(np.full((2, 1, 28, 28), 0.37), k, mode=mode)  # type: ignore[arg-type]
        np.testing.assert_allclose(out, 0.37, rtol=1e-6)

    def test_area_is_block_mean(self, rng: np.random.Generator) -> None:
        images = rng.random((4, 28, 28))
        out = resize(images, 7)
        blocks = images.reshape(4, 7, 4, 7, 4).mean(axis=(2, 4))
        np.testing.assert_allclose(out, blocks, rtol=1e-5)

    def test_bad_inputs(self) -> None:
        with pytest.raises(ValueError, match=r"images must have shape .*; got shape \(28, 28\)"):
            resize(np.zeros((28, 28)), 4)
        with pytest.raises(ValueError, match="k must be an integer >= 1; got 0"):
            resize(np.zeros((1, 28, 28)), 0)
        with pytest.raises(
            ValueError, match="mode must be 'area', 'bilinear' or None; got 'nearest'"
        ):
            resize(np.zeros((1, 28, 28)), 4, mode="nearest")  # type: ignore[arg-type]
