"""The factorisation-machine surrogate against independent truth: its training is
torch's Adam (``torch.optim.Adam``, autograd gradients) on the machine's defining loss
``mean((w0 + w.b + sum_{i<j} <v_i, v_j> b_i b_j - y)**2) + l2 (|w|**2 + |V|**2)``
written out with an explicit sum over pairs, from libFM's initialisation (``w0`` the
mean target, ``w = 0``, factors normal with standard deviation 0.1, libFM's default
``init_stdev``); the ensemble's mean and draws against its members.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quarch.search._fm import FMEnsemble, _onehot, _train, fit_fm, fm_model
from quarch.search._surrogate import QuadraticModel, features, n_features

SIZES = [3, 4, 2]


def _archs(sizes: list[int] = SIZES) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


def _data(seed: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, SIZES, size=(m, len(SIZES)))
    y = np.sin(X[:, 0] + 2.0 * X[:, 1]) + 0.3 * X[:, 2] + 0.1 * rng.standard_normal(m)
    return X, y


def _torch_adam(
    B: np.ndarray, y: np.ndarray, w0: float, w: np.ndarray, V: np.ndarray, steps: int, l2: float
) -> tuple[float, np.ndarray, np.ndarray]:
    torch = pytest.importorskip("torch")
    Bt = torch.tensor(B, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    p0 = torch.tensor([w0], dtype=torch.float64, requires_grad=True)
    pw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    pV = torch.tensor(V, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p0, pw, pV], lr=0.05, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(steps):
        opt.zero_grad()
        pairs = torch.triu(pV @ pV.T, diagonal=1)  # <v_i, v_j> for i < j
        pred = p0[0] + Bt @ pw + ((Bt @ pairs) * Bt).sum(1)
        loss = ((pred - yt) ** 2).mean() + l2 * ((pw**2).sum() + (pV**2).sum())
        loss.backward()
        opt.step()
    return float(p0.detach()[0]), pw.detach().numpy(), pV.detach().numpy()


class TestTraining:
    def test_onehot_bits(self) -> None:
        X = _archs()
        np.testing.assert_array_equal(_onehot(X, SIZES), features(X, SIZES)[:, : sum(SIZES)])

    def test_initialisation_is_libfms(self) -> None:
        X, y = _data(0, 20)
        B = _onehot(X, SIZES)
        w0, w, V = _train(B, y, 50, np.random.default_rng(0), 0, 1e-3)
        assert w0 == pytest.approx(y.mean())
        np.testing.assert_array_equal(w, 0.0)
        assert V.shape == (9, 50)
        assert abs(V.mean()) < 0.02 and V.std() == pytest.approx(0.1, rel=0.1)

    @pytest.mark.parametrize(("steps", "l2"), [(1, 1e-3), (2, 0.0), (25, 1e-3), (60, 0.05)])
    def test_training_is_torch_adam_on_the_machines_loss(self, steps: int, l2: float) -> None:
        X, y = _data(steps, 14)
        B = _onehot(X, SIZES)
        init = _train(B, y, 3, np.random.default_rng(7), 0, l2)
        got = _train(B, y, 3, np.random.default_rng(7), steps, l2)
        ref = _torch_adam(B, y, *init, steps=steps, l2=l2)
        assert got[0] == pytest.approx(ref[0], abs=1e-9)
        np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-9)
        np.testing.assert_allclose(got[2], ref[2], rtol=0, atol=1e-9)


class TestEnsemble:
    def test_members_draws_and_mean(self) -> None:
        rng = np.random.default_rng(0)
        members = rng.standard_normal((5, n_features(SIZES)))
        ens = FMEnsemble(SIZES, members.tolist())
        np.testing.assert_allclose(ens.mean, members.mean(0))
        X = _archs()
        np.testing.assert_allclose(
            fm_model(ens).energy(X),
            np.mean([QuadraticModel(SIZES, m).energy(X) for m in members], 0),
        )
        for seed in range(10):
            d = ens.draw(np.random.default_rng(seed))
            i = int(np.argmin(np.abs(members - d).sum(1)))
            np.testing.assert_allclose(d, members[i], atol=1e-12)  # one member
            np.testing.assert_allclose(
                ens.draw(np.random.default_rng(seed), 0.5), ens.mean + 0.5 * (d - ens.mean)
            )
        seen = {int(np.argmin(np.abs(members - ens.draw(rng)).sum(1))) for _ in range(200)}
        assert seen == set(range(5))

    def test_documented_defaults(self) -> None:
        """rank 4, 8 members, 300 Adam steps, l2 1e-3 (the signature)."""
        X, y = _data(1, 12)
        ens = fit_fm(X, y, SIZES, rng=np.random.default_rng(3))
        ref = fit_fm(X, y, SIZES, rng=np.random.default_rng(3), rank=4, members=8, steps=300,
                     l2=1e-3)  # fmt: skip
        np.testing.assert_array_equal(ens.members, ref.members)

    def test_one_trial_is_fitted_by_every_member(self) -> None:
        X = np.array([[2, 1, 0]])
        ens = fit_fm(X, np.array([1.5]), SIZES, rng=np.random.default_rng(0), members=3)
        for m in ens.members:
            assert QuadraticModel(SIZES, m).energy(X)[0] == pytest.approx(1.5, abs=0.05)

    def test_two_trials_are_both_resampled(self) -> None:
        """Bootstrap resamples of two trials: some members learn each trial's value (a
        machine trained on the first trial alone predicts its value everywhere)."""
        X = np.array([[0, 0, 0], [2, 3, 1]])
        ens = fit_fm(X, np.array([1.0, -1.0]), SIZES, rng=np.random.default_rng(0))
        e = np.array([QuadraticModel(SIZES, m).energy(X) for m in ens.members])
        assert e[:, 0].max() > 0.5 and e[:, 1].min() < -0.5
